"""Enforces the schema's `@requiresScopes` declarations: the SDL is the only list of rules.

Each field that declares scopes gets a guard around its resolver when the schema is
built; fields without a declaration are untouched and cost nothing. A guard that
refuses raises `FORBIDDEN` (the field resolves to null, its `path` names it, the rest of
the result is returned) or, for resident data requested without a purpose,
`PURPOSE_REQUIRED`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLError, GraphQLField, GraphQLObjectType, GraphQLResolveInfo
from strawberry.federation.schema_directives import RequiresScopes
from strawberry.schema import Schema

from hub.auth.policy import NON_RESIDENT_SCOPES
from schema.department import Info
from schema.errors import FORBIDDEN, PURPOSE_REQUIRED

Alternatives = tuple[frozenset[str], ...]


class ForbiddenError(GraphQLError):
    def __init__(self, coordinate: str, alternatives: Alternatives) -> None:
        needed = " or ".join(" + ".join(sorted(scopes)) for scopes in alternatives)
        super().__init__(
            f"`{coordinate}` requires the scope {needed}; request a token that carries it",
            extensions={"code": FORBIDDEN},
        )


class PurposeRequiredError(GraphQLError):
    def __init__(self, coordinate: str) -> None:
        super().__init__(
            f"`{coordinate}` is resident data: send an X-Request-Purpose header saying why",
            extensions={"code": PURPOSE_REQUIRED},
        )


def declared_scopes(field: GraphQLField) -> Alternatives:
    """The field's `@requiresScopes`: any one inner set suffices (empty: no declaration)."""
    definition = field.extensions.get("strawberry-definition")
    for directive in getattr(definition, "directives", ()):
        if isinstance(directive, RequiresScopes):
            return tuple(frozenset(scopes) for scopes in directive.scopes)
    return ()


def protected_fields(schema: Schema) -> dict[str, Alternatives]:
    """`Type.field` → declared scopes, for every protected field of the schema."""
    found: dict[str, Alternatives] = {}
    for type_ in schema._schema.type_map.values():
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__"):
            for name, field in type_.fields.items():
                if alternatives := declared_scopes(field):
                    found[f"{type_.name}.{name}"] = alternatives
    return found


def enforce_declared_scopes(schema: Schema) -> None:
    """Wrap every protected field's resolver in a guard built from its declaration."""
    protected = protected_fields(schema)
    for coordinate, alternatives in protected.items():
        type_name, field_name = coordinate.split(".")
        type_ = schema._schema.type_map[type_name]
        assert isinstance(type_, GraphQLObjectType)
        field = type_.fields[field_name]
        field.resolve = _guard(field.resolve, coordinate, alternatives)


def _guard(
    resolve: Callable[..., Any] | None, coordinate: str, alternatives: Alternatives
) -> Callable[..., Any]:
    assert resolve is not None, f"{coordinate} has no resolver to guard"
    resident_data = any(scopes - NON_RESIDENT_SCOPES for scopes in alternatives)

    def guarded(root: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        context = info.context
        granted = context.caller.scopes
        if not any(scopes <= granted for scopes in alternatives):
            context.denied(info.path.as_list())
            raise ForbiddenError(coordinate, alternatives)
        if resident_data and not context.purpose:
            context.denied(info.path.as_list())
            raise PurposeRequiredError(coordinate)
        context.accessed_fields.add(coordinate)
        return resolve(root, info, **arguments)

    return guarded


def require_argument_scope(info: Info, scope: str, coordinate: str) -> None:
    """For rules on an argument, which `@requiresScopes` cannot be placed on.

    The rule is stated in the field's description, so it is in the SDL all the same.
    """
    if scope not in info.context.caller.scopes:
        info.context.denied(info.path.as_list())
        raise ForbiddenError(coordinate, (frozenset({scope}),))
