"""`sql` sources: a table or query in any database SQLAlchemy reaches with an async driver.

Rows are read in (watermark, key) order; the cursor is the last row's pair, so rows that
share one watermark value are neither skipped nor read twice across a batch boundary:

    WHERE (wm > :w) OR (wm = :w AND key > :k) ORDER BY wm, key LIMIT :n

Cursor: `{"watermark": {"type": …, "value": …}, "key": {"type": …, "value": …}}`; the
types make the values bind back exactly as the driver returned them. Rows whose watermark
is NULL are never read; use a query with COALESCE for such tables.

The cursor moves only over rows the hub accepted (`Batch.settle`): a row dated in the far
future (PostgreSQL's `infinity` sorts last) is quarantined and read again next run rather
than becoming a position past every later row. `lookback` re-reads that far behind the
cursor (`wm >= :floor` for the first batch), so rows committed late with an older time
arrive; the pipeline counts what it already holds as unchanged.

Every statement has a deadline (`statement_timeout_seconds`): PostgreSQL enforces it
server-side (`statement_timeout`, which covers waiting for a lock), SQLite waits that long
for a lock, and an asyncio deadline backs both up for any driver.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Dialect, RowMapping, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from connectors.base import Batch, Cursor, RawRecord, Source, Stream
from connectors.config import SqlSourceConfig
from connectors.config import SqlStream as SqlStreamConfig
from connectors.errors import FatalError, RetriableError
from connectors.jsonable import decode_typed, encode_typed, to_json_value
from connectors.secrets import secret

Position = tuple[Any, Any]  # (watermark, key) of a row, as the driver returned them
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}
_BACKSTOP_SECONDS = 5.0  # beyond the statement timeout, for drivers that do not enforce it


class SqlStream(Stream[SqlStreamConfig]):
    """One table or query, read by watermark then key."""

    engine: AsyncEngine
    deadline: float
    where: str  # the database, as connection errors name it

    async def read(self, cursor: Cursor | None) -> AsyncIterator[Batch]:
        start = _decode(cursor)
        committed, position = start, start
        floor = self._floor(start)
        while True:
            rows = await self._fetch(position, floor=floor)
            if not rows:
                return
            floor = None
            positions = [self._position(row) for row in rows]
            position = positions[-1]
            page = _Rows(positions, start=start, committed=committed)
            yield Batch(
                [_record(row) for row in rows], page.settle([True] * len(rows)), page.settle
            )
            committed = page.outcome
            if len(rows) < self.config.batch_size:
                return

    def _position(self, row: RowMapping) -> Position:
        return row[self.config.watermark_column], row[self.config.key_column]

    def _floor(self, start: Position | None) -> Any:
        lookback = self.config.lookback
        if lookback is None or start is None:
            return None
        floor = lookback_floor(start[0], lookback)
        if floor is None:
            raise FatalError(
                f"stream {self.name}: lookback needs a watermark column of times or dates; "
                f"{self.config.watermark_column} holds {start[0]!r}"
            )
        return floor

    async def _fetch(self, position: Position | None, *, floor: Any) -> list[RowMapping]:
        query = self._select(self.engine.dialect, after=position is not None, floor=floor)
        params: dict[str, Any] = {"n": self.config.batch_size}
        if floor is not None:
            params["floor"] = floor
        elif position is not None:
            params |= {"w": position[0], "k": position[1]}
        try:
            async with asyncio.timeout(self.deadline + _BACKSTOP_SECONDS):
                async with self.engine.connect() as connection:
                    result = await connection.execute(query, params)
                    return [row._mapping for row in result]
        except TimeoutError:
            raise _timed_out(self.name, self.deadline) from None
        except DBAPIError as error:
            raise _classify(
                error, stream=self.name, where=self.where, deadline=self.deadline
            ) from None
        except OSError as error:  # connection refused or reset before the driver wrapped it
            raise RetriableError(f"cannot reach the database at {self.where} ({error})") from None

    def _select(self, dialect: Dialect, *, after: bool, floor: Any) -> TextClause:
        quote = dialect.identifier_preparer.quote
        if self.config.query is not None:
            source = f"({self.config.query}) AS src"
        else:
            assert self.config.table is not None
            source = ".".join(quote(part) for part in self.config.table.split("."))
        wm, key = quote(self.config.watermark_column), quote(self.config.key_column)
        where = ""
        if floor is not None:
            where = f"WHERE {wm} >= :floor "
        elif after:
            where = f"WHERE ({wm} > :w) OR ({wm} = :w AND {key} > :k) "
        return text(f"SELECT * FROM {source} {where}ORDER BY {wm}, {key} LIMIT :n")


def lookback_floor(watermark: Any, lookback: timedelta) -> Any:
    """`lookback` before the watermark, in its own type; ISO text (SQLite) stays text of the
    same shape, so it compares as the column's values do. None: not a time."""
    if isinstance(watermark, datetime):
        return watermark - lookback
    if isinstance(watermark, date):
        return watermark - timedelta(days=max(1, lookback.days))
    if isinstance(watermark, str):
        try:
            moment = datetime.fromisoformat(watermark)
        except ValueError:
            return None
        separator = watermark[10] if len(watermark) > 10 else "T"
        timespec = "seconds" if "." not in watermark[19:] else "microseconds"
        text = (moment - lookback).isoformat(sep=separator, timespec=timespec)
        return text if len(watermark) > 10 else text[:10]
    return None


class _Rows:
    """The cursor after one batch: the last row the hub accepted, never behind where the run began."""

    def __init__(
        self, positions: list[Position], *, start: Position | None, committed: Position | None
    ) -> None:
        self.positions, self.start, self.committed = positions, start, committed
        self.outcome = committed

    def settle(self, movers: Sequence[bool]) -> Cursor:
        outcome = self.committed
        for position, moves in zip(self.positions, movers, strict=True):
            if moves and _after(position, self.start):
                outcome = position
        self.outcome = outcome
        return {} if outcome is None else _encode(outcome)


def _after(position: Position, start: Position | None) -> bool:
    """Rows re-read by a lookback lie at or before the start; they never move the cursor back."""
    if start is None:
        return True
    try:
        return position > start
    except TypeError:  # values of another type than the cursor's (a changed column): move on
        return True


def _record(row: RowMapping) -> RawRecord:
    return {str(column): to_json_value(value) for column, value in row.items()}


def _encode(position: Position) -> Cursor:
    return {"watermark": encode_typed(position[0]), "key": encode_typed(position[1])}


def _decode(cursor: Cursor | None) -> tuple[Any, Any] | None:
    if not cursor:
        return None
    return decode_typed(cursor["watermark"]), decode_typed(cursor["key"])


def _classify(
    error: DBAPIError, *, stream: str, where: str, deadline: float
) -> RetriableError | FatalError:
    """A lost connection, a lock or a slow query may clear by the next run; a bad table will not."""
    text = str(error.orig or error)
    if getattr(error.orig, "sqlstate", None) == "57014" or "statement timeout" in text:
        return _timed_out(stream, deadline)
    if "database is locked" in text:
        return RetriableError(
            f"stream {stream}: the source table stayed locked for {deadline:g} s "
            "(statement_timeout_seconds)"
        )
    if error.connection_invalidated or isinstance(error.orig, OSError):
        return RetriableError(f"cannot reach the database at {where} ({_first_line(error)})")
    return FatalError(
        f"stream {stream}: query failed ({_first_line(error)}); check table, query and columns"
    )


def _timed_out(stream: str, deadline: float) -> RetriableError:
    return RetriableError(
        f"stream {stream}: the query did not finish within {deadline:g} s "
        "(statement_timeout_seconds); a lock or a slow query in the source database"
    )


def database_address(url: str) -> str:
    """`driver://host:port/database` (never the password), or the SQLite file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"{parsed.drivername}:///{parsed.database or ':memory:'}"
    port = parsed.port or _DEFAULT_PORTS.get(parsed.get_backend_name()) or "default"
    return f"{parsed.drivername}://{parsed.host}:{port}/{parsed.database or ''}"


def _connect_args(url: str, deadline: float) -> dict[str, Any]:
    """The statement deadline where the driver can enforce it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"timeout": deadline}  # seconds to wait for a lock
    if parsed.get_driver_name() == "asyncpg":
        settings = {"statement_timeout": str(int(deadline * 1000))}  # ms; lock waits included
        return {"server_settings": settings, "timeout": deadline}
    return {}


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0]


class SqlSource(Source):
    """A department database; one async engine shared by its streams."""

    config: SqlSourceConfig

    def __init__(
        self,
        name: str,
        config: SqlSourceConfig,
        *,
        code_tables: Mapping[str, Mapping[str, str]],
        env: Mapping[str, str],
    ) -> None:
        super().__init__(name, config)
        where = f"connectors.{name}.url_env"
        self._url = config.url or secret(env, config.url_env or "", where=where)
        self.engine: AsyncEngine | None = None
        for stream_name, stream_config in config.streams.items():
            stream = SqlStream(stream_name, stream_config, source=config, code_tables=code_tables)
            self.streams[stream_name] = stream

    async def open(self) -> None:
        deadline = self.config.statement_timeout_seconds
        try:
            self.engine = create_async_engine(
                self._url, connect_args=_connect_args(self._url, deadline)
            )
            where = database_address(self._url)
        except (ArgumentError, InvalidRequestError) as error:
            raise FatalError(
                f"connector {self.name}: bad database URL ({_first_line(error)}); use an async "
                "driver such as postgresql+asyncpg:// or sqlite+aiosqlite://"
            ) from None
        for stream in self.streams.values():
            assert isinstance(stream, SqlStream)
            stream.engine, stream.deadline, stream.where = self.engine, deadline, where

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()
            self.engine = None
