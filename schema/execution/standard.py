"""The standard execution path: graphql-core resolvers guarded by the access rules.

`guard(schema, rules)` wraps the resolver of every field that has an access rule, once, when
the schema is built; fields without a rule are untouched and cost nothing. A guard asks
`schema.access.decide` and records the answer in the request's ledger (a subscription
field is guarded when it subscribes and for each event): a refusal raises its error (the field resolves to null, its `path` names it, the rest of the result is
returned). `StandardExecutor` records every `Resident` object it completes and answers
its errors in response order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from graphql import ExecutionResult, GraphQLObjectType, GraphQLResolveInfo
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema import Schema
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.access import AccessRules, ArgumentRule, FieldRule, decide, decide_argument
from schema.execution.ordering import in_response_order

RESIDENT_TYPE = "Resident"


def guard(schema: Schema, rules: AccessRules) -> None:
    """Wrap every ruled field's resolver in a guard deciding by `rules`."""
    type_map = schema._schema.type_map
    for coordinate in rules.fields.keys() | rules.arguments.keys():
        type_name, field_name = coordinate.split(".")
        type_ = type_map[type_name]
        assert isinstance(type_, GraphQLObjectType)
        field = type_.fields[field_name]
        assert field.resolve is not None, f"{coordinate} has no resolver to guard"
        rule, argument_rules = rules.fields.get(coordinate), rules.arguments.get(coordinate, ())
        field.resolve = _guarded(field.resolve, rule, argument_rules)
        if field.subscribe is not None:  # a subscription is refused before it starts
            field.subscribe = _guarded(field.subscribe, rule, argument_rules)


def _guarded(
    resolve: Callable[..., Any], rule: FieldRule | None, argument_rules: Sequence[ArgumentRule]
) -> Callable[..., Any]:
    def guarded(root: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        context = info.context
        scopes = context.caller.scopes
        refusal = decide(rule, scopes, has_purpose=bool(context.purpose)) if rule else None
        for argument_rule in argument_rules:
            refusal = refusal or decide_argument(argument_rule, scopes, arguments)
        if refusal is not None:
            context.ledger.refused(info.path.as_list(), refusal.code)
            raise refusal.error()
        if rule is not None:
            context.ledger.allowed(rule.coordinate)
        return resolve(root, info, **arguments)

    return guarded


class StandardExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, recording each resident it completes into the ledger."""

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if return_type.name == RESIDENT_TYPE:
            info.context.ledger.returned(str(result.id))
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def build_response(self, data: dict[str, Any] | None) -> Any:
        """The response, its errors in response order (as every executor orders them)."""
        result = super().build_response(data)
        if isinstance(result, ExecutionResult) and result.errors:
            ordered = in_response_order(result.data, result.errors)
            return ExecutionResult(result.data, ordered, result.extensions)
        return result
