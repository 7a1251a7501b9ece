"""Several keyed reads in one statement: a level's loads in one round trip.

A level of a page asks for several reads by key at once: up to nine department record types
by resident (contracts, vaccinations, grants …), or the residents' grids, households and
tags. Run one by one they cost a round trip each: on the hub the send, the wake-up and the
result handling of each (a page's nine record reads were about a tenth of its CPU), on
PostgreSQL each statement's fixed work. `read_together` runs them as one `UNION ALL`:
every branch is one table's `WHERE key = ANY(:keys)`, its columns in slots of their own
(NULL in the other branches), tagged with its position; the rows are split back into each
read's rows, the very columns (and, for department records, the order: newest first, then
`id`) its own statement returns.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    cast,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.sqltypes import NullType

from hub.storage.base import UtcDateTime
from hub.storage.direct import fetch_rows, result_processor, row_type
from hub.storage.keys import among_param


@dataclass(frozen=True, eq=False)
class KeyedTable:
    """A table read by one key column (`WHERE key = ANY(:keys)`). `newest_first`: a key's
    rows ordered as department records are, `source_updated_at` descending, then `id`."""

    table: FromClause
    key: str
    newest_first: bool = False

    def names(self, columns: Iterable[str] | None) -> tuple[str, ...]:
        """A read's columns: the key and the named columns in name order, or the whole
        table in its order."""
        if columns is None:
            return tuple(column.key for column in self.table.c)
        return (self.key, *sorted(set(columns) - {self.key}))


# One read wanted: the table, the keys, the columns (None: all of them).
Wanted = tuple[KeyedTable, Sequence[Any], Iterable[str] | None]


@dataclass(frozen=True)
class _Union:
    """The statement and, per branch, how a union row becomes that read's row."""

    statement: Select[Any]
    split: tuple[Callable[[Sequence[Any]], Any], ...]


async def read_together(
    connection: AsyncConnection, wanted: Sequence[Wanted]
) -> list[dict[Any, list[Any]]]:
    """Every wanted read's rows per key (every key present, an empty list where none), in
    one statement; the answers in the order wanted."""
    parts = tuple((keyed, keyed.names(columns)) for keyed, _, columns in wanted)
    keys = [list(each) for _, each, _ in wanted]
    shared = all(each == keys[0] for each in keys)
    union = _union(connection.dialect, parts, shared)
    parameters = {"keys": keys[0]} if shared else {f"keys_{i}": each for i, each in enumerate(keys)}
    found: list[dict[Any, list[Any]]] = [{key: [] for key in each} for each in keys]
    split = union.split
    for row in await fetch_rows(connection, union.statement, parameters, named=False):
        part = row[0]
        found[part][row[1]].append(split[part](row))
    return found


# Leading columns of every branch: its position, its key, then what a key's rows are
# ordered by (these two are not sent back).
_PART, _KEY, _UPDATED, _ID = "part", "k", "o_updated_at", "o_id"
_LEADING = 2


@functools.lru_cache(maxsize=256)
def _union(
    dialect: Dialect, parts: tuple[tuple[KeyedTable, tuple[str, ...]], ...], shared: bool
) -> _Union:
    """Built once per dialect and set of reads and columns (SQLAlchemy, and the direct path,
    then compile it once). Its columns have no result processing (the driver's values, read
    by position): a read's own columns are processed when its rows are split off, the slots
    the other branches fill with NULL never."""
    slots = [
        (i, name) for i, (keyed, names) in enumerate(parts) for name in names if name != keyed.key
    ]
    branches = []
    for i, (keyed, _) in enumerate(parts):
        table = keyed.table
        updated = table.c.source_updated_at if keyed.newest_first else cast(null(), UtcDateTime())
        values: list[ColumnElement[Any]] = [
            literal_column(str(i), Integer).label(_PART),
            table.c[keyed.key].label(_KEY),
            type_coerce(updated, NullType()).label(_UPDATED),
            (table.c.id if keyed.newest_first else cast(null(), Integer())).label(_ID),
        ]
        for n, (owner, name) in enumerate(slots):
            column = parts[owner][0].table.c[name]
            value = table.c[name] if owner == i else cast(null(), column.type)
            values.append(type_coerce(value, NullType()).label(f"s{n}"))
        param = "keys" if shared else f"keys_{i}"
        branches.append(select(*values).where(among_param(dialect.name, table.c[keyed.key], param)))
    # Ordered outside the union, by columns not sent back (the order is all they are for):
    # only a key's own rows need an order (they are split off by key), so not by the key,
    # whose text comparisons were an eighth of a page's record reads.
    union = union_all(*branches).subquery("keyed")
    statement = select(*(c for c in union.c if c.key not in {_UPDATED, _ID})).order_by(
        union.c[_UPDATED].desc(), union.c[_ID]
    )
    position = {slot: _LEADING + n for n, slot in enumerate(slots)}
    split = tuple(
        _splitter(
            names,
            [1 if name == keyed.key else position[i, name] for name in names],
            [keyed.table.c[name].type for name in names],
            dialect,
        )
        for i, (keyed, names) in enumerate(parts)
    )
    return _Union(statement, split)


def _splitter(
    names: Sequence[str], indexes: Sequence[int], types: Sequence[Any], dialect: Dialect
) -> Callable[[Sequence[Any]], Any]:
    """A union row to one read's row: its columns picked, processed as SQLAlchemy would."""
    make = row_type(names)._make
    pick: Callable[[Sequence[Any]], Any]
    if len(indexes) == 1:
        (only,) = indexes

        def pick_one(row: Sequence[Any]) -> tuple[Any, ...]:
            return (row[only],)

        pick = pick_one
    else:
        pick = operator.itemgetter(*indexes)
    processors = [
        (i, processor)
        for i, type_ in enumerate(types)
        if (processor := result_processor(type_, dialect)) is not None
    ]
    if not processors:
        return lambda row: make(pick(row))

    def split(row: Sequence[Any]) -> Any:
        values = list(pick(row))
        for i, process in processors:
            values[i] = process(values[i])
        return make(values)

    return split
