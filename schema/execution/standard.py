"""The standard execution path: graphql-core resolvers guarded by the access rules.

`guard(schema, rules)` wraps the resolver of every field that has an access rule, once, when
the schema is built; fields without a rule are untouched and cost nothing. A guard asks
`schema.access.decide` and records the answer in the request's ledger (a subscription
field is guarded when it subscribes and for each event): a refusal raises
its error (the field resolves to null, its `path` names it, the rest of the result is
returned). A PII or sensitive field (`rule.harvest`) is also refused with QUOTA_EXCEEDED
when `context.quota.allows(resident_id)` says the caller's daily quota is spent: a plain
call on state loaded before execution, no I/O. `StandardExecutor` records every
`Resident` object it completes, refuses those beyond `max_resident_nodes` (the static cost
assumed fewer than a list held), and answers its errors in response order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from graphql import ExecutionResult, GraphQLObjectType, GraphQLResolveInfo
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema import Schema
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from hub.errors import LimitError
from schema.access import AccessRules, ArgumentRule, FieldRule, decide, decide_argument
from schema.errors import QUOTA_EXCEEDED, QuotaExceededError
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
            if rule.harvest and not context.quota.allows(resident_of(root)):
                context.ledger.refused(info.path.as_list(), QUOTA_EXCEEDED)
                raise QuotaExceededError(rule.coordinate, context.quota.limit)
            context.ledger.allowed(rule.coordinate)
        return resolve(root, info, **arguments)

    return guarded


def resident_of(parent: Any) -> str:
    """The resident a field's parent object belongs to (a `Resident`, or a profile of one)."""
    return str(getattr(parent, "resident_id", None) or getattr(parent, "id", ""))


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
            _count_resident(info.context, str(result.id))
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


def _count_resident(context: Any, resident_id: str) -> None:
    ledger, maximum = context.ledger, context.limits.cost.max_resident_nodes
    if resident_id not in ledger.resident_ids and len(ledger.resident_ids) >= maximum:
        raise too_many_residents(maximum)
    ledger.returned(resident_id)


def too_many_residents(maximum: int) -> LimitError:
    """The error of a resident beyond `max_resident_nodes` (either executor raises it)."""
    return LimitError(
        f"this request has returned {maximum} residents, the most one request may; "
        "page through them instead",
        maximumResidentNodes=maximum,
    )
