"""Where the audit writer's batches go: one transaction per batch, as cheaply as the driver allows.

asyncpg is natively asynchronous, so PostgreSQL batches run on the async engine. aiosqlite
hands every cursor call to its thread and back (some twenty hops for a batch, ~2 ms);
a synchronous SQLite connection in one dedicated thread writes the whole batch in one hop.
A batch of one statement (PostgreSQL's, hub/audit/batch.py) runs in autocommit: a single
statement is atomic, so BEGIN and COMMIT would be two round trips for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import Engine, Executable, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.storage import direct
from hub.storage.session import enable_sqlite_pragmas

Statement = tuple[Executable, list[dict[str, Any]] | None]


class BatchSink(Protocol):
    async def write(self, statements: list[Statement]) -> None: ...
    async def close(self) -> None: ...


def _run(connection: Connection, statements: list[Statement]) -> None:
    if connection.dialect.name == "postgresql" and _single(statements):
        statement, parameters = statements[0]
        _run_alone(connection, statement, parameters)
        return
    with connection.begin():
        for statement, parameters in statements:
            connection.execute(statement, parameters)


def _single(statements: list[Statement]) -> bool:
    """One statement executed once (not an executemany)."""
    return len(statements) == 1 and (statements[0][1] is None or len(statements[0][1]) == 1)


def _run_alone(
    connection: Connection, statement: Executable, parameters: list[dict[str, Any]] | None
) -> None:
    """One statement is atomic by itself: run it in autocommit, without BEGIN and COMMIT."""
    default = connection.default_isolation_level
    connection.execution_options(isolation_level="AUTOCOMMIT")
    try:
        connection.execute(statement, parameters[0] if parameters else None)
        connection.commit()  # ends SQLAlchemy's own bookkeeping; nothing is sent
    except BaseException:  # a cancellation too: it must come out as itself
        with contextlib.suppress(Exception):
            connection.rollback()
        with contextlib.suppress(Exception):  # fails while a cancelled statement is unwound:
            connection.execution_options(isolation_level=default or "READ COMMITTED")
        raise  # the caller drops the connection
    connection.execution_options(isolation_level=default or "READ COMMITTED")


class AsyncSink:
    """A connection of its own: no pool checkout per batch, none taken from requests.

    Batches and checkpoints take turns on it (a connection runs one transaction at a time).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._turn = asyncio.Lock()

    async def write(self, statements: list[Statement]) -> None:
        async with self._turn:
            if self._connection is None:
                self._connection = await self._engine.connect()
            try:
                if not await self._direct(self._connection, statements):
                    await self._connection.run_sync(_run, statements)
            except BaseException:  # a failed or cancelled write: never reuse its connection
                with contextlib.suppress(Exception):
                    await self._connection.invalidate()
                self._connection = None
                raise

    @staticmethod
    async def _direct(connection: AsyncConnection, statements: list[Statement]) -> bool:
        """A PostgreSQL batch statement runs straight on asyncpg (hub/storage/direct.py):
        compiled once per shape, in autocommit as `_run_alone` runs it, without SQLAlchemy's
        per-execution work and the two isolation-level switches around it."""
        if connection.dialect.name != "postgresql" or not _single(statements):
            return False
        statement, parameters = statements[0]
        if not direct.alone(statement) or connection.in_transaction():
            return False
        await direct.execute(connection, statement, parameters[0] if parameters else {})
        return True

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


class ThreadSink:
    """A synchronous SQLite connection living in one dedicated thread."""

    def __init__(self, engine: AsyncEngine) -> None:
        url = engine.url.set(drivername="sqlite")
        self._engine: Engine = create_engine(url)
        event.listen(self._engine, "connect", enable_sqlite_pragmas)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-sqlite")
        self._connection: Connection | None = None
        self._closed = False

    def _write(self, statements: list[Statement]) -> None:
        if self._connection is None:
            self._connection = self._engine.connect()
        try:
            _run(self._connection, statements)
        except Exception:
            self._connection.invalidate()
            self._connection = None
            raise

    async def write(self, statements: list[Statement]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._write, statements)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)


def sink_for(engine: AsyncEngine) -> BatchSink:
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return ThreadSink(engine)
    return AsyncSink(engine)
