"""Both executors on one request: the compiled answer is served, the standard one compared.

`DifferentialExecutor` runs a planned query on the standard executor (with a context of
its own: fresh ledger, loaders and connection) and then on the compiled path, and records
any difference in data, errors (as JSON) or ledger. The suite's in-process hub uses it, so
every query any test sends is compared; `DIFFERENCES` is checked after each test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult, GraphQLError

from hub.audit.ledger import AccessLedger
from hub.errors import HubError
from hub.limits.quotas import HarvestQuota
from schema.execution.compiled import CompiledExecutor
from schema.execution.plan import ObjectPlan
from schema.execution.standard import StandardExecutor


@dataclass(frozen=True)
class Difference:
    operation: str
    standard: Any
    compiled: Any


DIFFERENCES: list[Difference] = []
COMPILED_RUNS: list[str] = []  # operations answered on the compiled path, by name


def answer(result: ExecutionResult, ledger: AccessLedger) -> dict[str, Any]:
    """What a caller and the audit trail see of one execution.

    An unexpected failure (a database error) is compared by its class, not its text: in
    development its message carries the SQL, which differs between executors (the compiled
    path reads only the columns it needs); in production it is masked for both.
    """
    return {
        "data": result.data,
        "errors": [_formatted(error) for error in result.errors or ()],
        "ledger": ledger.summary(),
    }


def _formatted(error: GraphQLError) -> dict[str, Any]:
    formatted = dict(error.formatted)
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError | HubError):
        formatted["message"] = f"unexpected {type(original).__name__}"
    return formatted


class DifferentialExecutor(CompiledExecutor):
    async def _run(self, plan: ObjectPlan) -> ExecutionResult:
        context = self.context_value
        standard_context = context.for_operation()
        # The same harvest quota as loaded for the request: a copy, as the standard
        # executor's reads must not count for the compiled one's.
        quota = context.quota
        standard_context.quota = HarvestQuota(limit=quota.limit, seen=set(quota.seen))
        standard = StandardExecutor(
            self.schema,
            self.fragment_definitions,
            self.fragments,
            self.root_value,
            standard_context,
            self.operation,
            self.variable_values,
            self.field_resolver,
            self.type_resolver,
            self.subscribe_field_resolver,
            self.enable_early_execution,
            self.middleware_manager,
            self.is_awaitable,
            self.is_async_iterable,
            hide_suggestions=self.hide_suggestions,
            abort_signal=self.abort_signal,
            hooks=self.hooks,
            operation_extensions=self.operation_extensions,
        )
        try:
            expected = standard.execute_operation()
            if self.is_awaitable(expected):
                expected = await expected
        finally:
            await standard_context.database.close()
        assert isinstance(expected, ExecutionResult)
        compiled = await super()._run(plan)
        name = self.operation.name.value if self.operation.name else "(anonymous)"
        COMPILED_RUNS.append(name)
        wanted = answer(expected, standard_context.ledger)
        got = answer(compiled, context.ledger)
        if wanted != got:
            DIFFERENCES.append(Difference(name, wanted, got))
        return compiled
