"""The compiled execution path, plugged into strawberry as its `execution_context_class`.

For a query, a plan is built once per (operation, caller's scopes, purpose present,
values of the variables that steer @skip/@include) and cached; running it resolves the
root fields, then loads and builds level by level (`run.py`). Anything the plan does not
cover — mutations, subscriptions, introspection, `_entities`, abstract types — runs on the
standard executor, unchanged. Both answer the same JSON and fill the same ledger; the
differential tests hold them to it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from graphql import (
    ExecutionResult,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    visit,
)
from graphql.language import Visitor

from schema.access import AccessRules
from schema.context import Context
from schema.execution.ordering import in_response_order
from schema.execution.plan import Decisions, ObjectPlan, Planner, Unplannable
from schema.execution.run import Run
from schema.execution.standard import StandardExecutor

PLAN_CACHE_SIZE = 512

# The operation is keyed by identity (`id`, the node kept in the entry so the id stays its
# own): graphql-core's AST nodes hash by value, recursively through the whole document,
# which costs ~0.2 ms per hash for the 100-resident page. The parser cache hands every
# request of one document the same nodes, so identity finds them.
PlanKey = tuple[int, frozenset[str], bool, tuple[Any, ...]]


class PlanCache:
    """Plans by key, least recently used first out; None remembers "not plannable"."""

    def __init__(self, maxsize: int = PLAN_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._plans: OrderedDict[PlanKey, tuple[OperationDefinitionNode, ObjectPlan | None]] = (
            OrderedDict()
        )

    def get(
        self, operation: OperationDefinitionNode, key: PlanKey
    ) -> tuple[bool, ObjectPlan | None]:
        entry = self._plans.get(key)
        if entry is None or entry[0] is not operation:
            return False, None
        self._plans.move_to_end(key)
        return True, entry[1]

    def put(
        self, operation: OperationDefinitionNode, key: PlanKey, plan: ObjectPlan | None
    ) -> None:
        self._plans[key] = (operation, plan)
        self._plans.move_to_end(key)
        if len(self._plans) > self.maxsize:
            self._plans.popitem(last=False)


class CompiledExecutor(StandardExecutor):
    """Runs planned queries on the compiled path, everything else on graphql-core's."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        plan = self._plan() if self.operation.operation is OperationType.QUERY else None
        if plan is None:
            return super().execute_operation(serially)
        return self._run(plan)

    async def _run(self, plan: ObjectPlan) -> ExecutionResult:
        run = Run(self)
        data = await run.execute(plan, self.root_value)
        errors = in_response_order(data, run.errors)
        return ExecutionResult(data, errors or None)

    def _plan(self) -> ObjectPlan | None:
        context = self.context_value
        strawberry_schema = getattr(self.schema, "_strawberry_schema", None)
        rules: AccessRules | None = getattr(strawberry_schema, "access_rules", None)
        if not isinstance(context, Context) or rules is None or self._has_middleware():
            return None
        scopes = context.caller.scopes
        has_purpose = bool(context.purpose)
        operation = self.operation
        key = (id(operation), scopes, has_purpose, self._directive_variables())
        found, plan = _CACHE.get(operation, key)
        if found:
            return plan
        root_type = self.schema.query_type
        assert root_type is not None
        planner = Planner(
            self.schema,
            self.fragments,
            self.variable_values,
            self.operation,
            Decisions(rules, scopes, has_purpose),
        )
        try:
            plan = planner.root(root_type)
        except Unplannable:
            plan = None
        _CACHE.put(operation, key, plan)
        return plan

    def _has_middleware(self) -> bool:
        manager = self.middleware_manager
        return manager is not None and manager._middleware_resolvers is not None

    def _directive_variables(self) -> tuple[Any, ...]:
        names = _directive_variable_names(self.operation, self.fragment_definitions)
        coerced = self.variable_values.coerced
        return tuple(coerced.get(name) for name in names)


_CACHE = PlanCache()
# By the operation's identity, as the plans are (the node kept, so its id stays its own).
_DIRECTIVE_VARIABLES: dict[int, tuple[OperationDefinitionNode, tuple[str, ...]]] = {}


def _directive_variable_names(
    operation: OperationDefinitionNode, fragments: dict[str, Any]
) -> tuple[str, ...]:
    """Variables used in directive arguments anywhere in the operation or its fragments."""
    entry = _DIRECTIVE_VARIABLES.get(id(operation))
    if entry is not None and entry[0] is operation:
        return entry[1]
    found: set[str] = set()

    class Collect(Visitor):
        def enter_directive(self, node: Any, *_: Any) -> None:
            for argument in node.arguments or ():
                if isinstance(argument.value, VariableNode):
                    found.add(argument.value.name.value)

    visit(operation, Collect())
    for fragment in fragments.values():
        visit(fragment, Collect())
    if len(_DIRECTIVE_VARIABLES) >= PLAN_CACHE_SIZE * 4:
        _DIRECTIVE_VARIABLES.clear()
    names = tuple(sorted(found))
    _DIRECTIVE_VARIABLES[id(operation)] = (operation, names)
    return names
