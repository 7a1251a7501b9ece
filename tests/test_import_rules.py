"""The package boundaries: `hub` reaches `schema` only from its composition roots.

`schema` builds on `hub` (storage, auth, audit); if any other `hub` module imported
`schema`, the two would import each other and the domain code could not be used without
GraphQL. The composition roots assemble the application and are allowed to.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPOSITION_ROOTS = {"hub/app.py", "hub/graphql_app.py"}  # and the CLI package, hub/cli/


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports, at top level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules_of(package: str) -> dict[str, set[str]]:
    return {
        path.relative_to(ROOT).as_posix(): imported_modules(path)
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def is_in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_hub_imports_schema_only_from_its_composition_roots() -> None:
    offenders = {
        path: sorted(m for m in imports if is_in(m, "schema"))
        for path, imports in modules_of("hub").items()
        if path not in COMPOSITION_ROOTS and path.split("/")[1] != "cli"
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_schema_never_imports_the_composition_roots() -> None:
    roots = {"hub.app", "hub.graphql_app", "hub.cli"}
    offenders = {
        path: sorted(m for m in imports if any(is_in(m, root) for root in roots))
        for path, imports in modules_of("schema").items()
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_connectors_import_neither_storage_nor_schema() -> None:
    """Connectors read and yield; hub/sync writes (STYLE.md, point 6)."""
    offenders = {
        path: sorted(m for m in imports if is_in(m, "schema") or is_in(m, "hub.storage"))
        for path, imports in modules_of("connectors").items()
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}
