"""Production keeps the schema to those who need it: introspection (`__schema`, `__type`) and
the federation `_service { sdl }` answer only callers holding `schema:read` (the gateway's
client, admins). Everyone else gets FORBIDDEN for the whole operation; `__typename` stays open.

Decided per request from the operation's root selections (through fragments), before
execution: validation results are cached per document and cannot depend on the caller.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from schema.context import Context
from schema.errors import ForbiddenError

SCHEMA_READ = "schema:read"
SCHEMA_FIELDS = frozenset({"__schema", "__type", "_service"})


class SchemaExposure(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        document = execution.graphql_document
        scopes = context.caller.scopes if isinstance(context, Context) else frozenset()
        if document is not None and SCHEMA_READ not in scopes:
            asked = _schema_fields(document, execution.operation_name)
            if asked:
                names = ", ".join(sorted(asked))
                message = (
                    f"{names}: the schema is served in production only to callers with the "
                    f"scope {SCHEMA_READ}; ask for the SDL files instead"
                )
                execution.result = ExecutionResult(data=None, errors=[ForbiddenError(message)])
        yield


def _schema_fields(document: DocumentNode, operation_name: str | None) -> set[str]:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return set()
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return _root_names(operation.selection_set, fragments, set()) & SCHEMA_FIELDS


def _root_names(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> set[str]:
    names: set[str] = set()
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            names |= _root_names(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                names |= _root_names(fragment.selection_set, fragments, seen)
    return names
