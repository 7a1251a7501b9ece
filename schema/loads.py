"""Level loads declared on fields: what a field needs from the database, for all parents at once.

A `Batch` is one batch fetch: a list of keys in, a value per key out, in one query (every
record of one type per resident, grids by code, …). A `Load` declares how a field uses a
batch: the key it reads from its parent object (`resident_id`, `household_id`, `code`,
`path`), the conversion of each fetched row to the field's type, and the pick (every row,
the newest, the first active …). The declaration sits in the field's metadata
(`loaded(...)` builds such a field).

The standard executor resolves a loaded field through a DataLoader per batch, built lazily
for the request (`Loaders`); a planner reads the same declarations and fetches each batch
once per level for all parents. A `derived` field is computed from its parent alone (a
department profile object made from the resident's id): no I/O, so no load. Rows arrive newest first where a batch says so, so picks
are plain functions of the converted list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry import federation
from strawberry.dataloader import DataLoader

from hub.crypto.ring import KeyRing, NoKeyRing
from hub.storage.keyed_union import KeyedTable, Wanted, read_together
from hub.storage.session import RequestDatabase

if TYPE_CHECKING:
    from strawberry.types.field import StrawberryField

LOAD = "gridhub.load"
DERIVE = "gridhub.derive"


@dataclass(frozen=True)
class LoadScope:
    """What a batch may depend on besides its keys: the caller's row scope and scopes (need
    to know), today's date, the field keys that open sealed columns."""

    within_path: str | None
    today: date
    scopes: frozenset[str] = frozenset()
    fields: KeyRing = field(default_factory=NoKeyRing)


Fetch = Callable[[AsyncConnection, Sequence[Any], LoadScope], Awaitable[Mapping[Any, Any]]]
# The same fetch reading only the named columns (those a plan's selections read).
Select = Callable[
    [AsyncConnection, Sequence[Any], LoadScope, frozenset[str]], Awaitable[Mapping[Any, Any]]
]


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True, eq=False)
class Keyed:
    """A batch that is one keyed read of one table: a level reads all its keyed batches in
    one statement (hub/storage/keyed_union.py). `columns`: those it always reads (None:
    the planner's, where the batch can `select`, else all); `shape` makes the batch's
    answer from its rows per key (every key present)."""

    table: KeyedTable
    columns: frozenset[str] | None = None
    shape: Callable[[dict[Any, list[Any]]], Mapping[Any, Any]] = _identity


def first_rows(rows: dict[Any, list[Any]]) -> dict[Any, Any]:
    """The answer of a batch with one row per key (`many=False`): the keys found."""
    return {key: found[0] for key, found in rows.items() if found}


@dataclass(frozen=True, eq=False)
class Batch:
    """One batch fetch; `missing` is the value of a key the fetch did not return.

    A batch with `select` can read only some columns: a planner that knows which fields
    a level selects passes their names. A `keyed` batch is read in one statement with the
    other keyed batches its level needs.
    """

    name: str
    fetch: Fetch
    many: bool = True
    select: Select | None = None
    keyed: Keyed | None = None

    @property
    def missing(self) -> Any:
        return [] if self.many else None


def every(values: list[Any]) -> list[Any]:
    return values


def newest(values: list[Any]) -> Any:
    """The first of a newest-first list, or None."""
    return values[0] if values else None


def first_where(predicate: Callable[[Any], bool]) -> Callable[[list[Any]], Any]:
    def pick(values: list[Any]) -> Any:
        return next((value for value in values if predicate(value)), None)

    return pick


@dataclass(frozen=True, eq=False)
class Load:
    """A field's declared load: `batch` keyed by the parent's `key` attribute.

    `rows` says the batch's rows carry the field type's fields as columns, so a planner may
    serve them as they are, without `convert`; `needs` names the columns `pick` reads.
    """

    batch: Batch
    key: str
    convert: Callable[[Any], Any] = _identity
    pick: Callable[[list[Any]], Any] = every
    rows: bool = False
    needs: frozenset[str] = frozenset()

    def raw_value(self, fetched: Any) -> Any:
        """The field's value as rows (a `rows` load, for a planner)."""
        if not self.batch.many:
            return fetched
        return self.pick(fetched)

    def value(self, fetched: Any) -> Any:
        """The field's value from what the batch returned for one key."""
        if not self.batch.many:
            return None if fetched is None else self.convert(fetched)
        return self.pick([self.convert(row) for row in fetched])

    def key_of(self, parent: Any) -> Any:
        return getattr(parent, self.key)


def load_of(field: Any) -> Load | None:
    """The load a GraphQL field declares (from its strawberry definition), if any."""
    definition = getattr(field, "extensions", {}).get("strawberry-definition", field)
    metadata: Mapping[str, Any] = getattr(definition, "metadata", None) or {}
    load: Load | None = metadata.get(LOAD)
    return load


def loaded(
    load: Load,
    *,
    graphql_type: Any,
    description: str | None = None,
    requires_scopes: list[list[str]] | None = None,
    directives: Sequence[object] = (),
) -> Any:
    """A strawberry field whose value is `load`; `requires_scopes` as `@requiresScopes`,
    `directives` as further schema directives (a list's `@listSize`)."""

    async def resolve(root: Any, info: strawberry.Info) -> Any:
        key = load.key_of(root)
        if key is None:
            return load.value(load.batch.missing)
        fetched = await info.context.loaders.load(load.batch, key)
        return load.value(fetched)

    return _declared(resolve, {LOAD: load}, graphql_type, description, requires_scopes, directives)


def derived(
    derive: Callable[[Any], Any],
    *,
    graphql_type: Any,
    description: str | None = None,
    requires_scopes: list[list[str]] | None = None,
) -> Any:
    """A strawberry field computed from its parent alone, without I/O (a profile object)."""

    def resolve(root: Any) -> Any:
        return derive(root)

    return _declared(resolve, {DERIVE: derive}, graphql_type, description, requires_scopes)


def derive_of(field: Any) -> Callable[[Any], Any] | None:
    """The derivation a GraphQL field declares (from its strawberry definition), if any."""
    definition = getattr(field, "extensions", {}).get("strawberry-definition", field)
    metadata: Mapping[str, Any] = getattr(definition, "metadata", None) or {}
    derive: Callable[[Any], Any] | None = metadata.get(DERIVE)
    return derive


def _declared(
    resolve: Callable[..., Any],
    metadata: dict[str, Any],
    graphql_type: Any,
    description: str | None,
    requires_scopes: list[list[str]] | None,
    directives: Sequence[object] = (),
) -> Any:
    made: StrawberryField
    if requires_scopes is not None:
        made = federation.field(
            resolver=resolve,
            graphql_type=graphql_type,
            description=description,
            requires_scopes=requires_scopes,
            metadata=metadata,
            directives=directives,
        )
    else:
        made = strawberry.field(
            resolver=resolve,
            graphql_type=graphql_type,
            description=description,
            metadata=metadata,
            directives=directives,
        )
    return made


def _keyed_read(batch: Batch, keys: Sequence[Any], columns: frozenset[str] | None) -> Wanted:
    keyed = batch.keyed
    assert keyed is not None
    return keyed.table, keys, columns if batch.select is not None else keyed.columns


@dataclass
class Loaders:
    """A request's DataLoaders, one per batch, created on first use (nothing leaks between
    callers: the scope is the request's caller)."""

    database: RequestDatabase
    scope: LoadScope
    _loaders: dict[Batch, DataLoader[Any, Any]] = field(default_factory=dict)
    _primed: dict[Batch, dict[Any, Any]] = field(default_factory=dict)

    def load(self, batch: Batch, key: Any) -> Awaitable[Any]:
        loader = self._loaders.get(batch)
        if loader is None:
            loader = self._loaders[batch] = DataLoader(load_fn=self._load_fn(batch))
            for primed_key, value in self._primed.get(batch, {}).items():
                loader.prime(primed_key, value)
        return loader.load(key)

    def prime(self, batch: Batch, key: Any, value: Any) -> None:
        """Make `value` the batch's answer for `key` in this request: a statement that
        already read it (a lookup reads the resident's grid with the resident) spares the
        batch its round trip. `value` must be what the batch's fetch returns for `key`
        (all of its columns)."""
        self._primed.setdefault(batch, {})[key] = value
        if (loader := self._loaders.get(batch)) is not None:
            loader.prime(key, value)

    async def fetch(
        self, batch: Batch, keys: Sequence[Any], columns: frozenset[str] | None = None
    ) -> Mapping[Any, Any]:
        """One batch for many keys at once; only `columns` when given and the batch can
        select them. Primed keys are not fetched again; with every key primed there is no
        statement at all."""
        answer = (await self.fetch_level({batch: (keys, columns)}))[batch]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def fetch_level(
        self, wanted: Mapping[Batch, tuple[Sequence[Any], frozenset[str] | None]]
    ) -> dict[Batch, Mapping[Any, Any] | Exception]:
        """`fetch` for every batch a planner's level needs (its keys and columns), its
        keyed batches in one statement. A failed fetch is kept as the error of each batch
        it was for."""
        known: dict[Batch, dict[Any, Any]] = {}  # primed answers, not fetched again
        asked: dict[Batch, tuple[Sequence[Any], frozenset[str] | None]] = {}
        for batch, (keys, columns) in wanted.items():
            if primed := self._primed.get(batch):
                known[batch] = {key: primed[key] for key in keys if key in primed}
                keys = [key for key in keys if key not in primed]
            if keys or batch not in known:
                asked[batch] = (keys, columns)
        keyed = [batch for batch in asked if batch.keyed is not None]
        fetched: dict[Batch, Mapping[Any, Any] | Exception] = {}
        if len(keyed) > 1:
            try:
                async with self.database.connect() as connection:
                    answers = await read_together(
                        connection, [_keyed_read(batch, *asked[batch]) for batch in keyed]
                    )
                for batch, rows in zip(keyed, answers, strict=True):
                    fetched[batch] = batch.keyed.shape(rows)  # type: ignore[union-attr]
            except Exception as error:  # answered as each of the batches' fields' errors
                fetched.update((batch, error) for batch in keyed)
        for batch in asked:
            if batch not in fetched:
                try:
                    fetched[batch] = await self._fetch(batch, *asked[batch])
                except Exception as error:  # answered as the batch's fields' errors
                    fetched[batch] = error
        for batch, answer in known.items():
            found = fetched.get(batch)
            if found is None:
                fetched[batch] = answer
            elif not isinstance(found, Exception):
                fetched[batch] = {**answer, **found}
        return fetched

    async def _fetch(
        self, batch: Batch, keys: Sequence[Any], columns: frozenset[str] | None
    ) -> Mapping[Any, Any]:
        async with self.database.connect() as connection:
            if columns is not None and batch.select is not None:
                return await batch.select(connection, keys, self.scope, columns)
            return await batch.fetch(connection, keys, self.scope)

    def _load_fn(self, batch: Batch) -> Callable[[list[Any]], Awaitable[list[Any]]]:
        async def load(keys: list[Any]) -> list[Any]:
            found = await self.fetch(batch, keys)
            missing = batch.missing
            return [found.get(key, missing) for key in keys]

        return load
