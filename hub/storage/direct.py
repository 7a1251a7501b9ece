"""Hot statements run straight on asyncpg: SQLAlchemy's SQL, without its per-execution work.

A lookup's two SELECTs spent about 0.13 ms of CPU each in SQLAlchemy's execution layer
(cache key, compiled-statement lookup, parameter processing, the greenlet hop, the
asyncpg adapter, result metadata) for ~0.03 ms in asyncpg itself. `fetch_rows` keeps
SQLAlchemy's statement and its SQL but does that work once per statement:

- the statement (built once by its caller, with bound parameters) is compiled once with
  the connection's dialect: the very text SQLAlchemy would send (`$1::VARCHAR` casts and
  all), the order of its positional parameters and each column's result processor (enums,
  UTC timestamps: the values a SQLAlchemy row holds);
- on PostgreSQL in autocommit (a request's connection, hub/storage/session.py) it runs on
  the asyncpg connection underneath, which prepares it once per connection; the rows come
  back as named tuples whose attributes are the columns (`row.code`), like SQLAlchemy rows;
- anything else (SQLite, a connection inside a transaction) runs `connection.execute` as
  before, and so does a statement whose direct run failed: SQLAlchemy runs it again and
  raises its own error (and invalidates a dropped connection) exactly as it always did. A
  SELECT run twice changes nothing.

`execute` does the same for one write that is atomic on its own and marked so by its
builder (`runs_alone`): the audit trail's batch statement on PostgreSQL (hub/audit/batch.py,
hub/audit/sinks.py). A write is never run twice: its failure is raised as it is.
"""

from __future__ import annotations

import collections
import logging
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Executable, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.compiler import SQLCompiler

logger = logging.getLogger("gridhub.storage")


class _Row(tuple[Any, ...]):
    """Base of the row classes: `_mapping` as SQLAlchemy rows have it."""

    __slots__ = ()

    @property
    def _mapping(self) -> Mapping[str, Any]:
        return dict(zip(self._fields, self, strict=True))  # type: ignore[attr-defined]


def row_type(keys: Sequence[str]) -> type[Any]:
    """A named-tuple row class whose attributes are `keys`, with `_mapping` as SQLAlchemy
    rows have it."""
    return type("Row", (collections.namedtuple("_RowFields", keys), _Row), {"__slots__": ()})


class _Compiled:
    """One statement compiled once for one dialect, ready to run on asyncpg."""

    __slots__ = (
        "binds",
        "compiled",
        "expanding",
        "keys",
        "names",
        "processed",
        "row",
        "sql",
        "statement",
    )

    def __init__(self, statement: Executable, dialect: Dialect, keys: Sequence[str]) -> None:
        # As SQLAlchemy compiles it for these parameters (`column_keys`: an INSERT's or
        # UPDATE's implicit SET columns).
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
        assert isinstance(compiled, SQLCompiler)
        self.statement = statement  # kept, so that the id it is cached by stays its own
        self.keys = frozenset(keys)
        self.compiled = compiled
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup or ())
        # An expanding parameter (`IN` over a list) renders per length: construct_expanded_state.
        self.expanding = bool(compiled.post_compile_params) or any(
            compiled.binds[name].expanding for name in self.names
        )
        columns = compiled._result_columns
        self.row = row_type([column[0] for column in columns])
        processors = [result_processor(column[3], dialect) for column in columns]
        # Only the columns that have a result processor are touched per row.
        self.processed: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (i, p) for i, p in enumerate(processors) if p is not None
        )
        self.binds: Mapping[str, Any] = dict(compiled._bind_processors)

    def arguments(self, parameters: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and its positional arguments, processed as SQLAlchemy processes them."""
        binds: Mapping[str, Any]
        if self.expanding:
            state = self.compiled.construct_expanded_state(dict(parameters))
            sql, names, values, binds = (
                state.statement,
                state.positiontup,
                state.parameters,
                state.processors,
            )
        else:
            sql, names, values, binds = self.sql, self.names, parameters, self.binds
        arguments = []
        for name in names or ():
            value = values[name]
            process = binds.get(name)
            arguments.append(value if process is None or value is None else process(value))
        return sql, arguments

    def rows(self, records: Sequence[Any]) -> list[Any]:
        make, processed = self.row._make, self.processed
        if not processed:
            return [make(record) for record in records]
        rows = []
        for record in records:
            values = list(record)
            for i, process in processed:
                values[i] = process(values[i])
            rows.append(make(values))
        return rows


# PostgreSQL's type OIDs for the numeric columns' declared types (FLOAT is double precision,
# FLOAT(p) with p <= 24 real).
_NUMERIC, _REAL, _DOUBLE = 1700, 700, 701


def _server_type(type_: Any) -> int | None:
    """The OID PostgreSQL reports for a column of `type_` where the dialect's result
    processor depends on it (numbers: the asyncpg dialect converts between Decimal and
    float by what the server sent, which SQLAlchemy reads from the cursor); None elsewhere.
    """
    if isinstance(type_, sqltypes.Float):
        return _REAL if type_.precision is not None and type_.precision <= 24 else _DOUBLE
    if isinstance(type_, sqltypes.Numeric):
        return _NUMERIC
    return None


def result_processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """What SQLAlchemy does to a column of `type_` read from this dialect's driver."""
    processor: Callable[[Any], Any] | None = type_._cached_result_processor(
        dialect, _server_type(type_)
    )
    return processor


# Called with the SQL of every statement run here (which SQLAlchemy's events do not see):
# statement-count tests and benchmarks count them with SQLAlchemy's.
OBSERVERS: list[Callable[[str], None]] = []


def _observed(sql: str) -> None:
    for observer in OBSERVERS:
        observer(sql)


_COMPILED: dict[tuple[int, str], _Compiled] = {}
MAX_COMPILED = 1024


def _compiled(statement: Executable, dialect: Dialect, parameters: Mapping[str, Any]) -> _Compiled:
    """The statement compiled for these parameters' names (a statement built once is always
    run with the same names: a different set compiles it again)."""
    key = (id(statement), dialect.name)
    found = _COMPILED.get(key)
    if found is None or found.statement is not statement or parameters.keys() != found.keys:
        if len(_COMPILED) >= MAX_COMPILED:
            _COMPILED.clear()
        found = _COMPILED[key] = _Compiled(statement, dialect, sorted(parameters))
    return found


# Statements whose compilation for the direct path failed (by identity, kept with them):
# compiled once, not on every run, and said once in the log.
_INDIRECT: dict[int, Any] = {}


async def _driver(connection: AsyncConnection) -> Any:
    """The asyncpg connection under `connection`. While the connection holds its pooled
    connection (neither closed nor invalidated) that is an attribute read; otherwise
    SQLAlchemy fetches it (in its greenlet: it may have to reconnect)."""
    sync = connection.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        return sync.connection.driver_connection
    return (await connection.get_raw_connection()).driver_connection


def _direct(connection: AsyncConnection) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    options = connection.sync_connection.get_execution_options()  # type: ignore[union-attr]
    return bool(options.get("isolation_level") == "AUTOCOMMIT")


async def fetch_rows(
    connection: AsyncConnection,
    statement: Select[Any] | Select[Any, Any],
    parameters: Mapping[str, Any],
    *,
    named: bool = True,
) -> Sequence[Any]:
    """The rows of `statement` (built once, by the caller) with `parameters` bound; with
    `named` false, rows a caller reads by position only (the driver's own records where no
    column has a result processor).

    Only for statements that live as long as the process (module-level or cached): each is
    compiled once and kept.
    """
    if _direct(connection) and _INDIRECT.get(id(statement)) is not statement:
        try:
            compiled = _compiled(statement, connection.dialect, parameters)
        except Exception as error:  # not compilable for the direct path: SQLAlchemy's from now on
            _INDIRECT[id(statement)] = statement
            logger.warning(
                "runs through SQLAlchemy (cannot compile it directly: %r): %s", error, statement
            )
            return list(await connection.execute(statement, dict(parameters)))
        try:
            driver = await _driver(connection)
            sql, arguments = compiled.arguments(parameters)
            if OBSERVERS:
                _observed(sql)
            records = await driver.fetch(sql, *arguments)
        except Exception:  # SQLAlchemy runs it again and raises (or answers) as it always did
            pass
        else:
            return records if not named and not compiled.processed else compiled.rows(records)
    return list(await connection.execute(statement, dict(parameters)))


# Write statements marked as atomic on their own and built once (by identity; dropped with them).
_ALONE: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()

Marked = TypeVar("Marked")


def runs_alone(statement: Marked) -> Marked:
    """Mark `statement` (built once, bound parameters only) as one that `execute` may run."""
    _ALONE[id(statement)] = statement
    return statement


def alone(statement: object) -> bool:
    """Was `statement` marked by `runs_alone`?"""
    return _ALONE.get(id(statement)) is statement


async def execute(
    connection: AsyncConnection, statement: Executable, parameters: Mapping[str, Any]
) -> None:
    """Run one write statement (built once by its caller) straight on asyncpg, outside any
    transaction: a single statement is atomic by itself. PostgreSQL only; its failure is
    raised as asyncpg raised it (a write is never run twice)."""
    compiled = _compiled(statement, connection.dialect, parameters)
    driver = await _driver(connection)
    sql, arguments = compiled.arguments(parameters)
    if OBSERVERS:
        _observed(sql)
    await driver.execute(sql, *arguments)
