"""`sql` sources: a table or query in any database SQLAlchemy reaches with an async driver.

Rows are read in (watermark, key) order; the cursor is the last row's pair, so rows that
share one watermark value are neither skipped nor read twice across a batch boundary:

    WHERE (wm > :w) OR (wm = :w AND key > :k) ORDER BY wm, key LIMIT :n

Cursor: `{"watermark": {"type": …, "value": …}, "key": {"type": …, "value": …}}`; the
types make the values bind back exactly as the driver returned them. Rows whose watermark
is NULL are never read; use a query with COALESCE for such tables.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Dialect, RowMapping
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from connectors.base import Batch, Cursor, RawRecord, Source, Stream
from connectors.config import SqlSourceConfig
from connectors.config import SqlStream as SqlStreamConfig
from connectors.errors import FatalError, RetriableError
from connectors.jsonable import decode_typed, encode_typed, to_json_value
from connectors.secrets import secret


class SqlStream(Stream[SqlStreamConfig]):
    """One table or query, read by watermark then key."""

    engine: AsyncEngine

    async def read(self, cursor: Cursor | None) -> AsyncIterator[Batch]:
        position = _decode(cursor)
        while True:
            rows = await self._fetch(position)
            if not rows:
                return
            last = rows[-1]
            position = (last[self.config.watermark_column], last[self.config.key_column])
            yield Batch([_record(row) for row in rows], _encode(position))
            if len(rows) < self.config.batch_size:
                return

    async def _fetch(self, position: tuple[Any, Any] | None) -> list[RowMapping]:
        query = self._select(self.engine.dialect, after=position is not None)
        params: dict[str, Any] = {"n": self.config.batch_size}
        if position is not None:
            params |= {"w": position[0], "k": position[1]}
        try:
            async with self.engine.connect() as connection:
                result = await connection.execute(query, params)
                return [row._mapping for row in result]
        except DBAPIError as error:
            raise _classify(error, stream=self.name) from None
        except OSError as error:  # connection refused or reset before the driver wrapped it
            raise RetriableError(f"database unavailable: {error}") from None

    def _select(self, dialect: Dialect, *, after: bool) -> TextClause:
        quote = dialect.identifier_preparer.quote
        if self.config.query is not None:
            source = f"({self.config.query}) AS src"
        else:
            assert self.config.table is not None
            source = ".".join(quote(part) for part in self.config.table.split("."))
        wm, key = quote(self.config.watermark_column), quote(self.config.key_column)
        where = f"WHERE ({wm} > :w) OR ({wm} = :w AND {key} > :k) " if after else ""
        return text(f"SELECT * FROM {source} {where}ORDER BY {wm}, {key} LIMIT :n")


def _record(row: RowMapping) -> RawRecord:
    return {str(column): to_json_value(value) for column, value in row.items()}


def _encode(position: tuple[Any, Any]) -> Cursor:
    return {"watermark": encode_typed(position[0]), "key": encode_typed(position[1])}


def _decode(cursor: Cursor | None) -> tuple[Any, Any] | None:
    if not cursor:
        return None
    return decode_typed(cursor["watermark"]), decode_typed(cursor["key"])


def _classify(error: DBAPIError, *, stream: str) -> RetriableError | FatalError:
    """A lost connection may heal by the next run; a bad table, column or query will not."""
    if error.connection_invalidated or isinstance(error.orig, OSError):
        return RetriableError(f"database unavailable: {_first_line(error)}")
    return FatalError(
        f"stream {stream}: query failed ({_first_line(error)}); check table, query and columns"
    )


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
        try:
            self.engine = create_async_engine(self._url)
        except (ArgumentError, InvalidRequestError) as error:
            raise FatalError(
                f"connector {self.name}: bad database URL ({_first_line(error)}); use an async "
                "driver such as postgresql+asyncpg:// or sqlite+aiosqlite://"
            ) from None
        for stream in self.streams.values():
            stream.engine = self.engine  # type: ignore[attr-defined]

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()
            self.engine = None
