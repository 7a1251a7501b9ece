"""The auth package's import graph: no cycles at import time, the runtime free of the server."""

from __future__ import annotations

import ast
from pathlib import Path

import hub.auth

AUTH = Path(hub.auth.__file__).parent
PREFIX = "hub.auth"


def _module_name(path: Path) -> str:
    parts = path.relative_to(AUTH).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PREFIX, *parts))


MODULES = {_module_name(path): path for path in sorted(AUTH.rglob("*.py"))}


class _ImportTimeImports(ast.NodeVisitor):
    """Modules of `hub.auth` a module imports when it runs (`if TYPE_CHECKING:` blocks skipped)."""

    def __init__(self) -> None:
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.orelse:
                self.visit(statement)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module is None or node.level:
            return
        self._add(node.module)
        for alias in node.names:
            self._add(f"{node.module}.{alias.name}")

    def _add(self, name: str) -> None:
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            candidate = ".".join(parts[:end])
            if candidate in MODULES:
                self.found.add(candidate)


def _imports(module: str) -> set[str]:
    visitor = _ImportTimeImports()
    visitor.visit(ast.parse(MODULES[module].read_text(encoding="utf-8")))
    return visitor.found - {module}


GRAPH = {module: _imports(module) for module in MODULES}
# A submodule "importing" its own package finds it initialised already: not a cycle.
WITHOUT_ANCESTORS = {
    module: {other for other in imported if not module.startswith(other + ".")}
    for module, imported in GRAPH.items()
}


def _reachable(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [*graph[start]]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def test_the_walk_sees_the_auth_modules_and_their_imports() -> None:
    assert "hub.auth.oauth.server" in MODULES
    assert "hub.auth.tokens.verify" in GRAPH["hub.auth.tokens"]


def test_no_auth_module_imports_itself_back_at_import_time() -> None:
    cycles = sorted(module for module in GRAPH if module in _reachable(module, WITHOUT_ANCESTORS))
    assert cycles == []


def test_the_runtime_does_not_import_the_authorization_server() -> None:
    reached = _reachable("hub.auth.runtime", GRAPH)
    assert "hub.auth.oauth.server" not in reached
    assert "hub.auth.oauth.routes" not in reached
