"""Access rules as data: the schema's scope declarations, read once into a table.

A field rule says which scope sets open a field (any one set suffices: `@requiresScopes`)
and whether the field carries resident data, in which case the request must also say why
(X-Request-Purpose). An argument rule says which scope an argument needs when it is given;
federation directives cannot sit on arguments, so it is declared in the field's metadata
(`argument_scopes(idNumber="resident:pii")`) and stated in the field's description.

`decide` and `decide_argument` are pure: the graphql-core guard calls them per resolved
field, a compiled plan calls them once per selection; both refuse with the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLField, GraphQLObjectType
from strawberry.federation.schema_directives import RequiresScopes
from strawberry.schema import Schema

from hub.auth.policy import HARVEST_SCOPES, NON_RESIDENT_SCOPES
from schema.errors import FORBIDDEN, PURPOSE_REQUIRED, ForbiddenError, PurposeRequiredError

Alternatives = tuple[frozenset[str], ...]

ARGUMENT_SCOPES = "gridhub.argument_scopes"


def argument_scopes(**scopes: str) -> dict[str, Mapping[str, str]]:
    """Field metadata: GraphQL argument name → the scope it needs when given."""
    return {ARGUMENT_SCOPES: scopes}


@dataclass(frozen=True)
class Refusal:
    """Why a field is not served: the error code and a message naming the fix."""

    code: str
    message: str

    def error(self) -> GraphQLError:
        if self.code == PURPOSE_REQUIRED:
            return PurposeRequiredError(self.message)
        return ForbiddenError(self.message)


@dataclass(frozen=True)
class FieldRule:
    coordinate: str  # Type.field
    alternatives: Alternatives
    resident_data: bool
    harvest: bool = False  # PII or sensitive: counts towards the caller's harvest quota

    @property
    def forbidden(self) -> Refusal:
        needed = " or ".join(" + ".join(sorted(scopes)) for scopes in self.alternatives)
        message = (
            f"`{self.coordinate}` requires the scope {needed}; request a token that carries it"
        )
        return Refusal(FORBIDDEN, message)

    @property
    def purpose_required(self) -> Refusal:
        message = (
            f"`{self.coordinate}` is resident data: send an X-Request-Purpose header saying why"
        )
        return Refusal(PURPOSE_REQUIRED, message)


@dataclass(frozen=True)
class ArgumentRule:
    coordinate: str  # Type.field(argument:)
    argument: str
    scope: str

    @property
    def forbidden(self) -> Refusal:
        message = (
            f"`{self.coordinate}` requires the scope {self.scope}; request a token that carries it"
        )
        return Refusal(FORBIDDEN, message)


def decide(rule: FieldRule, scopes: frozenset[str], *, has_purpose: bool) -> Refusal | None:
    """None when the caller may see the field; otherwise the refusal to answer with."""
    if not any(needed <= scopes for needed in rule.alternatives):
        return rule.forbidden
    if rule.resident_data and not has_purpose:
        return rule.purpose_required
    return None


def decide_argument(
    rule: ArgumentRule, scopes: frozenset[str], arguments: Mapping[str, Any]
) -> Refusal | None:
    """None unless the argument is given and the caller lacks its scope."""
    if arguments.get(rule.argument) is None or rule.scope in scopes:
        return None
    return rule.forbidden


def declared_scopes(field: GraphQLField) -> Alternatives:
    """The field's `@requiresScopes`: any one inner set suffices (empty: no declaration)."""
    definition = field.extensions.get("strawberry-definition")
    for directive in getattr(definition, "directives", ()):
        if isinstance(directive, RequiresScopes):
            return tuple(frozenset(scopes) for scopes in directive.scopes)
    return ()


def _declared_arguments(field: GraphQLField) -> Mapping[str, str]:
    definition = field.extensions.get("strawberry-definition")
    metadata: Mapping[str, Any] = getattr(definition, "metadata", None) or {}
    declared: Mapping[str, str] = metadata.get(ARGUMENT_SCOPES, {})
    return declared


@dataclass(frozen=True)
class AccessRules:
    """Every field rule and argument rule of one schema, by coordinate (`Type.field`)."""

    fields: Mapping[str, FieldRule]
    arguments: Mapping[str, tuple[ArgumentRule, ...]]

    @classmethod
    def from_schema(cls, schema: Schema) -> AccessRules:
        fields: dict[str, FieldRule] = {}
        arguments: dict[str, tuple[ArgumentRule, ...]] = {}
        for type_ in schema._schema.type_map.values():
            if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
                continue
            for name, field in type_.fields.items():
                coordinate = f"{type_.name}.{name}"
                if alternatives := declared_scopes(field):
                    resident_data = any(scopes - NON_RESIDENT_SCOPES for scopes in alternatives)
                    harvest = any(scopes & HARVEST_SCOPES for scopes in alternatives)
                    fields[coordinate] = FieldRule(coordinate, alternatives, resident_data, harvest)
                if declared := _declared_arguments(field):
                    arguments[coordinate] = tuple(
                        _argument_rule(coordinate, field, argument, scope)
                        for argument, scope in declared.items()
                    )
        return cls(fields=fields, arguments=arguments)

    def harvested(self) -> frozenset[str]:
        """Coordinates whose reading counts towards harvest quotas (PII, sensitive)."""
        return frozenset(c for c, rule in self.fields.items() if rule.harvest)

    def protected(self) -> dict[str, Alternatives]:
        """`Type.field` → declared scopes, for every protected field."""
        return {coordinate: rule.alternatives for coordinate, rule in self.fields.items()}


def _argument_rule(coordinate: str, field: GraphQLField, argument: str, scope: str) -> ArgumentRule:
    if argument not in field.args:
        raise ValueError(f"{coordinate} declares a scope for an unknown argument {argument!r}")
    return ArgumentRule(f"{coordinate}({argument}:)", argument, scope)


def protected_fields(schema: Schema) -> dict[str, Alternatives]:
    """`Type.field` → declared scopes, for every protected field of the schema."""
    return AccessRules.from_schema(schema).protected()
