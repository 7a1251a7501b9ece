"""Costs each valid operation before it runs, spends it from the caller's budget, reports it.

After validation (this extension comes after DocumentValidation, whose errors it reads): the
operation's static cost (schema/cost.py) over `max_cost`, or its resident nodes over
`max_resident_nodes`, is QUERY_TOO_COMPLEX with both numbers in `extensions`; an over-long
string argument is BAD_USER_INPUT; otherwise the cost is spent from the caller's token
bucket, and a bucket too empty for it is RATE_LIMITED (HTTP 429, Retry-After and the
RateLimit header fields). Every answered request reports `extensions.cost`.

Around execution: an operation that reads PII or sensitive fields loads the caller's
harvest quota for today into `context.quota` (the executors ask it per resident), and
afterwards writes what was counted; the day's first refusal raises an alert event in the
audit trail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from hub.audit.records import AuditRecord, Outcome
from hub.limits.availability import RETRY_AFTER_SECONDS, is_unavailable
from hub.limits.budgets import Decision
from hub.storage.base import utcnow
from schema.context import Context
from schema.cost import Cost, CostModel, StringTooLongError
from schema.errors import QUERY_TOO_COMPLEX, QUOTA_EXCEEDED, RATE_LIMITED, UNAVAILABLE

ALERT_ENDPOINT = "alert/harvest-quota"


class CostReport(SchemaExtension):
    def __init__(self) -> None:
        self.cost: Cost | None = None
        self.decision: Decision | None = None

    async def on_validate(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        if execution.pre_execution_errors == [] and isinstance(context, Context):
            error = await self._check(context)
            if error is not None:
                execution.pre_execution_errors = [error]
        yield

    async def _check(self, context: Context) -> GraphQLError | None:
        execution = self.execution_context
        model: CostModel | None = getattr(execution.schema, "cost_model", None)
        if model is None or execution.graphql_document is None:
            return None
        plan = model.plan(execution.graphql_document, execution.operation_name)
        if plan is None:
            return None
        bounds = context.limits.cost
        try:
            cost = plan.evaluate(execution.variables, max_string=bounds.max_string_length)
        except StringTooLongError as error:
            return error
        self.cost = cost
        if cost.requested > bounds.max_cost or cost.resident_nodes > bounds.max_resident_nodes:
            return _too_complex(cost, bounds.max_cost, bounds.max_resident_nodes)
        try:
            self.decision = await context.limits.spend(cost.requested)
        except Exception as error:
            return _unavailable(context, error)
        response = context.request.response
        if self.decision is not None and response is not None:
            response.headers.update(self.decision.headers())
        if self.decision is not None and not self.decision.allowed:
            if response is not None:
                response.status_code = 429
            return _rate_limited(self.decision)
        return None

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if self.cost is None or not self.cost.harvest or not isinstance(context, Context):
            yield
            return
        try:
            context.quota = await context.limits.quota()
        except Exception as error:
            raise _unavailable(context, error) from error
        try:
            yield
        finally:
            if await context.limits.settle(context.quota):
                await context.limits.alert(_alert(context))

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if self.cost is None or not isinstance(context, Context):
            return {}
        bounds = context.limits.cost
        return {"cost": self.cost.report(bounds.max_cost, bounds.max_resident_nodes)}


def _unavailable(context: Context, error: Exception) -> GraphQLError:
    """The limits' state cannot be read: UNAVAILABLE (503, Retry-After), or the error itself."""
    if not is_unavailable(error):
        raise error
    response = context.request.response
    if response is not None:
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return GraphQLError(
        "the database cannot be reached; retry later", extensions={"code": UNAVAILABLE}
    )


def _too_complex(cost: Cost, maximum: int, maximum_residents: int) -> GraphQLError:
    if cost.requested > maximum:
        message = (
            f"the operation may cost {cost.requested}, more than the {maximum} allowed; "
            "ask for smaller pages or fewer nested lists"
        )
    else:
        message = (
            f"the operation may return {cost.resident_nodes} residents, more than the "
            f"{maximum_residents} allowed in one request; page through them instead"
        )
    return GraphQLError(
        message,
        extensions={
            "code": QUERY_TOO_COMPLEX,
            "cost": cost.requested,
            "maximumCost": maximum,
            "residentNodes": cost.resident_nodes,
            "maximumResidentNodes": maximum_residents,
        },
    )


def _rate_limited(decision: Decision) -> GraphQLError:
    return GraphQLError(
        f"this operation costs {decision.cost:.0f} and {max(0, int(decision.remaining))} of "
        f"{decision.rate.capacity} per {decision.rate.window} s remain; "
        f"retry after {decision.retry_after} s",
        extensions={
            "code": RATE_LIMITED,
            "cost": int(decision.cost),
            "remaining": max(0, int(decision.remaining)),
            "retryAfter": decision.retry_after,
        },
    )


def _alert(context: Context) -> AuditRecord:
    """The audit event that says a client ran into its harvest quota today."""
    caller, quota = context.caller, context.quota
    return AuditRecord(
        at=utcnow(),
        request_id=context.request.request_id,
        endpoint=ALERT_ENDPOINT,
        outcome=Outcome.LIMITED,
        duration_us=0,
        client_id=caller.client_id,
        subject=caller.subject,
        roles=list(caller.roles),
        scopes=sorted(caller.scopes),
        grid_scope=caller.grid_code if caller.grid_path else None,
        client_address=context.request.client_address,
        purpose=context.request_purpose.purpose,
        end_user=context.request_purpose.end_user,
        case_ref=context.request_purpose.case_ref,
        operation_type="alert",
        operation_name="harvest-quota-exceeded",
        variables={"quota": quota.limit, "residents_read_today": quota.used},
        error_codes=[QUOTA_EXCEEDED],
    )
