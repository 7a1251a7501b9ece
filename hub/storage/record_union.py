"""Several department record types for a batch of residents in one statement.

A page's level asks for up to nine record types at once (contracts, vaccinations, grants …),
each a small keyed read. Run one by one they cost nine round trips: on the hub the send,
the wake-up and the result handling of each (about a tenth of a page's CPU), on PostgreSQL
nine statements' fixed work. `records_together` reads them in one `UNION ALL`: every branch
is one type's `records_by_resident` statement, its columns in slots of their own (NULL in
the other branches), tagged with its position; the rows are split back into each type's
rows, the very columns and order (`resident_id`, newest first, then `id`) its own
statement returns.
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
from sqlalchemy.sql.sqltypes import NullType

from hub.storage.direct import fetch_rows, row_type, server_type
from hub.storage.keys import among_param
from hub.storage.models import SourceRecord

# One record type wanted: its model, the residents' ids, the columns (None: all of them).
Wanted = tuple[type[SourceRecord], Sequence[str], Iterable[str] | None]


@dataclass(frozen=True)
class _Union:
    """The statement and, per branch, how a union row becomes that type's row."""

    statement: Select[Any]
    split: tuple[Callable[[Sequence[Any]], Any], ...]


async def records_together(
    connection: AsyncConnection, wanted: Sequence[Wanted]
) -> list[dict[str, list[Any]]]:
    """`records_by_resident(connection, model, ids, columns=columns)` for every wanted type,
    in one statement; the answers in the order wanted."""
    parts = tuple((model, _names(model, columns)) for model, _, columns in wanted)
    keys = [list(ids) for _, ids, _ in wanted]
    shared = all(each == keys[0] for each in keys)
    union = _union(connection.dialect, parts, shared)
    parameters = {"ids": keys[0]} if shared else {f"ids_{i}": each for i, each in enumerate(keys)}
    found: list[dict[str, list[Any]]] = [{key: [] for key in each} for each in keys]
    split = union.split
    rows = await fetch_rows(connection, union.statement, parameters, named=False)
    for row in rows:
        part = row[0]
        found[part][row[1]].append(split[part](row))
    return found


def _names(model: type[SourceRecord], columns: Iterable[str] | None) -> tuple[str, ...]:
    """The columns of one type's rows, as `records_by_resident` selects them: `resident_id`
    and the named columns in name order, or the whole table in its order."""
    if columns is None:
        return tuple(column.key for column in model.__table__.c)
    return ("resident_id", *sorted(set(columns) - {"resident_id"}))


# Leading columns of every branch: its position, then the keys the rows are ordered by
# (the last two are not sent back).
_PART, _RESIDENT, _UPDATED, _ID = "part", "resident_id", "o_updated_at", "o_id"
_LEADING = 2


@functools.lru_cache(maxsize=256)
def _union(
    dialect: Dialect, parts: tuple[tuple[type[SourceRecord], tuple[str, ...]], ...], shared: bool
) -> _Union:
    """Built once per dialect and set of types and columns (SQLAlchemy, and the direct path,
    then compile it once). Its columns have no result processing (the driver's values, read
    by position): a type's own columns are processed when its rows are split off, the slots
    the other branches fill with NULL never."""
    slots = [
        (i, name) for i, (_, names) in enumerate(parts) for name in names if name != "resident_id"
    ]
    branches = []
    for i, (model, _) in enumerate(parts):
        table = model.__table__
        values: list[ColumnElement[Any]] = [
            literal_column(str(i), Integer).label(_PART),
            table.c.resident_id.label(_RESIDENT),
            type_coerce(table.c.source_updated_at, NullType()).label(_UPDATED),
            table.c.id.label(_ID),
        ]
        for n, (owner, name) in enumerate(slots):
            column = parts[owner][0].__table__.c[name]
            value = table.c[name] if owner == i else cast(null(), column.type)
            values.append(type_coerce(value, NullType()).label(f"s{n}"))
        ids = "ids" if shared else f"ids_{i}"
        branches.append(select(*values).where(among_param(dialect.name, table.c.resident_id, ids)))
    # Ordered outside the union, by columns not sent back (the order is all they are for).
    union = union_all(*branches).subquery("records")
    statement = select(*(c for c in union.c if c.key not in {_UPDATED, _ID})).order_by(
        union.c[_RESIDENT], union.c[_UPDATED].desc(), union.c[_ID]
    )
    position = {slot: _LEADING + n for n, slot in enumerate(slots)}
    split = tuple(
        _splitter(
            names,
            [1 if name == "resident_id" else position[i, name] for name in names],
            [model.__table__.c[name].type for name in names],
            dialect,
        )
        for i, (model, names) in enumerate(parts)
    )
    return _Union(statement, split)


def _splitter(
    names: Sequence[str], indexes: Sequence[int], types: Sequence[Any], dialect: Dialect
) -> Callable[[Sequence[Any]], Any]:
    """A union row to one type's row: its columns picked, processed as SQLAlchemy would."""
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
        if (processor := type_._cached_result_processor(dialect, server_type(type_))) is not None
    ]
    if not processors:
        return lambda row: make(pick(row))

    def split(row: Sequence[Any]) -> Any:
        values = list(pick(row))
        for i, process in processors:
            values[i] = process(values[i])
        return make(values)

    return split
