"""Runs a plan: root resolvers, then one load per batch per level, then a synchronous build.

Level by level: the objects of one depth are gathered, every declared load their plans
need is fetched once for all of them (one statement per batch), and the level is built
into plain dicts without awaiting anything; fields without a declaration (a count, a
nested page) call their resolver, gathered per level. The access ledger is filled exactly
as the standard executor fills it (`hub/audit/ledger.py`).

Null propagation follows the GraphQL spec: a null where the schema promises a value nulls
the nearest nullable enclosing position (`Slot`), up to `data` itself; errors at or below
a position already nulled are dropped, as graphql-core drops them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, Undefined, located_error
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, inspect

from schema.errors import QUOTA_EXCEEDED, QuotaExceededError
from schema.execution.plan import ObjectPlan, Selection, Shape
from schema.execution.standard import resident_of, too_many_residents
from schema.loads import Loaders

if TYPE_CHECKING:
    from schema.execution.compiled import CompiledExecutor


class Slot:
    """A position in the response: `container[key]`, under the position `parent`."""

    __slots__ = ("container", "key", "nullable", "parent")

    def __init__(
        self, parent: Slot | None, container: Any, key: str | int | None, nullable: bool
    ) -> None:
        self.parent = parent
        self.container = container
        self.key = key
        self.nullable = nullable

    def path(self) -> list[str | int]:
        keys: list[str | int] = []
        slot: Slot | None = self
        while slot is not None and slot.key is not None:
            keys.append(slot.key)
            slot = slot.parent
        keys.reverse()
        return keys

    def graphql_path(self) -> Path | None:
        path: Path | None = None
        for key in self.path():
            path = Path(path, key, None)
        return path


Pending = tuple[ObjectPlan, Any, dict[str, Any], Slot]


class Run:
    """One execution of one plan."""

    def __init__(self, executor: CompiledExecutor) -> None:
        self.executor = executor
        context = executor.context_value
        self.ledger = context.ledger
        self.loaders: Loaders = context.loaders
        self.quota = quota = context.quota
        # `allows(resident_id)` when a harvest quota applies, else None (builders test it).
        self.allows = quota.allows if quota.limit is not None else None
        self.max_residents: int = context.limits.cost.max_resident_nodes
        self.errors: list[GraphQLError] = []
        self.nulled: set[Slot] = set()
        self.root_slot = Slot(None, None, None, nullable=False)
        self.data: dict[str, Any] | None = {}
        self.inline_built: set[ObjectPlan] = set()  # plans built inside their parents' builders

    async def execute(self, plan: ObjectPlan, root_value: Any) -> dict[str, Any] | None:
        data = self.data
        assert data is not None
        await self._level([(plan, root_value, data, self.root_slot)])
        return self.data

    # -- levels -------------------------------------------------------------------------

    async def _level(self, pending: list[Pending]) -> None:
        while pending:
            fetched = await self._prefetch(pending)
            following: list[Pending] = []
            calls: list[tuple[Selection, Any, dict[str, Any], Slot]] = []
            seen: set[ObjectPlan] = set()
            for plan, source, out, slot in pending:
                seen.add(plan)
                plan.builder(self, source, out, slot, fetched, following, calls)
            for plan in seen | self.inline_built:
                for selection in plan.ruled:
                    self.ledger.allowed(selection.rule.coordinate)  # type: ignore[union-attr]
                if self.allows is None:  # else each is recorded as its quota allows it
                    for selection in plan.harvested:
                        self.ledger.allowed(selection.rule.coordinate)  # type: ignore[union-attr]
            self.inline_built.clear()
            if calls:
                await self._call_resolvers(calls, following)
            pending = following

    async def _prefetch(self, pending: list[Pending]) -> dict[Any, Mapping[Any, Any] | Exception]:
        """One fetch per batch for every parent of the level (those that can, together in
        one statement); a failed fetch is kept as its error, which each field that needed it
        answers (as each DataLoader key would)."""
        keys: dict[Any, dict[Any, None]] = {}
        columns: dict[Any, frozenset[str] | None] = {}
        for plan in {plan for plan, _, _, _ in pending}:
            for selection in plan.loads:
                batch = selection.load.batch  # type: ignore[union-attr]
                needed = selection.columns if selection.raw else None
                if batch not in columns:
                    columns[batch] = needed
                elif needed is None or columns[batch] is None:
                    columns[batch] = None
                else:
                    columns[batch] = columns[batch] | needed  # type: ignore[operator]
        for plan, source, _, _ in pending:
            for selection in plan.loads:
                load = selection.load
                assert load is not None
                key = getattr(source, load.key)
                if key is not None:
                    keys.setdefault(load.batch, {})[key] = None
        return await self.loaders.fetch_level(
            {batch: (list(batch_keys), columns[batch]) for batch, batch_keys in keys.items()}
        )

    async def _call_resolvers(
        self,
        calls: list[tuple[Selection, Any, dict[str, Any], Slot]],
        following: list[Pending],
    ) -> None:
        results: list[Any]
        if len(calls) == 1:  # a lookup's root field: awaited here, without a task of its own
            selection, source, _, slot = calls[0]
            try:
                results = [await self._resolve(selection, source, slot)]
            except Exception as error:  # as gather(return_exceptions=True) would return it
                results = [error]
        else:
            results = await asyncio.gather(
                *(self._resolve(selection, source, slot) for selection, source, _, slot in calls),
                return_exceptions=True,
            )
        for (selection, _, out, slot), result in zip(calls, results, strict=True):
            if isinstance(result, Exception):
                self.field_error(result, selection, out, slot)
            else:
                self._complete(
                    result, selection.shape, selection, out, selection.key, slot, following
                )

    async def _resolve(self, selection: Selection, source: Any, slot: Slot) -> Any:
        executor = self.executor
        field_def = selection.field_def
        assert field_def is not None
        path = Path(slot.graphql_path(), selection.key, None)
        info = executor.build_resolve_info(field_def, selection.nodes, selection.parent_type, path)
        first = selection.details[0]
        arguments = (
            get_argument_values(
                field_def,
                first.node,
                executor.variable_values,
                first.fragment_variable_values,
                executor.hide_suggestions,
            )
            if field_def.args or first.node.arguments
            else {}
        )
        resolve = field_def.resolve or executor.field_resolver
        result = resolve(source, info, **arguments)
        if executor.is_awaitable(result):
            result = await result
        return result

    # -- completion: generic, for resolver results; builders inline the same rules ------

    def _complete(
        self,
        value: Any,
        shape: Shape,
        selection: Selection,
        container: Any,
        key: str | int,
        parent: Slot,
        following: list[Pending],
    ) -> None:
        if value is None:
            container[key] = None
            if shape.non_null:
                self.null_violation(selection, shape, container, key, parent)
            return
        if shape.serialize is not None:
            self.leaf(selection, shape, value, container, key, parent)
            return
        if shape.object is not None:
            if shape.object.is_resident and not self.admit(
                value, selection, shape, container, key, parent
            ):
                return
            out: dict[str, Any] = {}
            container[key] = out
            position = Slot(parent, container, key, not shape.non_null)
            following.append((shape.object, value, out, position))
            return
        item = shape.item
        assert item is not None
        items = self.items(value, selection, shape, container, key, parent)
        if items is None:
            return
        completed: list[Any] = [None] * len(items)
        container[key] = completed
        list_slot = Slot(parent, container, key, not shape.non_null)
        for index, element in enumerate(items):
            self._complete(element, item, selection, completed, index, list_slot, following)

    # -- what builders call back: the rare paths -----------------------------------------

    FAILED = object()  # a load whose batch failed: its error is already recorded

    def leaf(
        self,
        selection: Selection,
        shape: Shape,
        value: Any,
        container: Any,
        key: str | int,
        parent: Slot,
    ) -> None:
        """Serialise a leaf with its type's own coercion (graphql-core's complete_leaf_value)."""
        assert shape.serialize is not None
        try:
            coerced = shape.serialize(value)
            if coerced is None or coerced is Undefined:
                raise TypeError(
                    f"Expected `{inspect(shape.leaf_type)}.coerce_output_value("
                    f"{inspect(value)})` to return non-nullable value, returned:"
                    f" {inspect(coerced)}"
                )
        except Exception as error:  # any coercion failure is the field's
            container[key] = None
            self._value_error(error, selection, shape, container, key, parent)
            return
        container[key] = coerced

    def items(
        self,
        value: Any,
        selection: Selection,
        shape: Shape,
        container: Any,
        key: str | int,
        parent: Slot,
    ) -> list[Any] | None:
        """A list value as a list; None (and the field's error) when it is not iterable."""
        if value.__class__ is list:
            return value
        if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
            return list(value)
        container[key] = None
        message = (
            "Expected Iterable, but did not find one for field"
            f" '{selection.parent_type.name}.{selection.name}'."
        )
        self._value_error(GraphQLError(message), selection, shape, container, key, parent)
        return None

    def admit(
        self,
        value: Any,
        selection: Selection,
        shape: Shape,
        container: Any,
        key: str | int,
        parent: Slot,
    ) -> bool:
        """Record a `Resident` completed at `container[key]`; past `max_resident_nodes`,
        null it with the limit's error instead (the standard executor's `_count_resident`)."""
        resident_id = str(value.id)
        returned = self.ledger.resident_ids
        if resident_id in returned or len(returned) < self.max_residents:
            returned.add(resident_id)
            return True
        container[key] = None
        error = too_many_residents(self.max_residents)
        self._value_error(error, selection, shape, container, key, parent)
        return False

    def harvest(self, selection: Selection, source: Any, out: dict[str, Any], slot: Slot) -> bool:
        """May a PII or sensitive field of `source` be read under the caller's harvest quota?
        If not, null it with QUOTA_EXCEEDED (the standard executor's guard)."""
        rule = selection.rule
        assert rule is not None
        assert self.allows is not None
        if self.allows(resident_of(source)):
            self.ledger.allowed(rule.coordinate)
            return True
        self.ledger.refused([*slot.path(), selection.key], QUOTA_EXCEEDED)
        self.field_error(
            QuotaExceededError(rule.coordinate, self.quota.limit), selection, out, slot
        )
        return False

    def null_violation(
        self, selection: Selection, shape: Shape, container: Any, key: str | int, parent: Slot
    ) -> None:
        message = f"Cannot return null for non-nullable field {selection.parent_type.name}.{selection.name}."
        self._value_error(GraphQLError(message), selection, shape, container, key, parent)

    def refuse(self, selection: Selection, out: dict[str, Any], slot: Slot) -> None:
        """A selection refused at plan time: null, its refusal in the ledger and the errors."""
        refusal = selection.refusal
        assert refusal is not None
        self.ledger.refused([*slot.path(), selection.key], refusal.code)
        self.field_error(refusal.error(), selection, out, slot)

    def field_error(
        self, error: Exception, selection: Selection, out: dict[str, Any], slot: Slot
    ) -> None:
        """A field of the object at `slot` failed: null it, or its object if it is non-null."""
        out[selection.key] = None
        position = Slot(slot, out, selection.key, not selection.shape.non_null)
        path = [*slot.path(), selection.key]
        self._record(located_error(error, selection.nodes, path), position)

    # -- errors --------------------------------------------------------------------------

    def _value_error(
        self,
        error: Exception,
        selection: Selection,
        shape: Shape,
        container: Any,
        key: str | int,
        parent: Slot,
    ) -> None:
        """An error completing `container[key]` (of `shape`), held by the position `parent`."""
        path = [*parent.path(), key]
        position = Slot(parent, container, key, nullable=not shape.non_null)
        self._record(located_error(error, selection.nodes, path), position)

    def _record(self, error: GraphQLError, position: Slot) -> None:
        nulled = self._null(position)
        if self._under_nulled(nulled):
            return
        self.nulled.add(nulled)
        self.errors.append(error)

    def _null(self, position: Slot) -> Slot:
        """Null the nearest nullable position at or above `position`; return it."""
        slot = position
        while not slot.nullable and slot.parent is not None:
            slot = slot.parent
        if slot is self.root_slot:
            self.data = None
        else:
            slot.container[slot.key] = None
        return slot

    def _under_nulled(self, position: Slot) -> bool:
        slot: Slot | None = position
        while slot is not None:
            if slot in self.nulled:
                return True
            slot = slot.parent
        return False
