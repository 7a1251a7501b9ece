"""Engines and sessions: one async engine per process, sessions per unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool


def enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Per connection: SQLite ignores FOREIGN KEY clauses unless asked; WAL lets readers
    # and the writer proceed together; NORMAL sync is durable against process crashes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


# PostgreSQL settings of the server's connections (see create_engine).
SERVER_SETTINGS = {"max_parallel_workers_per_gather": "0", "random_page_cost": "1.1"}


def create_engine(
    database_url: str, *, echo: bool = False, pool_size: int | None = None
) -> AsyncEngine:
    """Create the async engine, with the per-backend settings GridHub relies on.

    On PostgreSQL, given `pool_size` (the server's, HUB_DB_POOL_SIZE), the pool keeps up to
    that many connections and opens none beyond them:
    an overflow connection would be closed on its return while requests keep coming, so a
    busy worker would reconnect (TLS, type introspection, statement preparation) again and
    again; requests past the pool wait for a connection instead. Without it (commands),
    10 kept and 20 more opened when needed. The server's connections plan no parallel
    workers: a request reads a few hundred rows by key, and a level's reads in one
    statement (hub/storage/keyed_union.py) looked costly enough to the planner to start two
    workers per page, which took 20 ms of PostgreSQL's time where the same reads in one
    process take 8 (and on a small machine the workers take the cores the hub runs on).
    They also price a random page read as cached or SSD data costs it (1.1, not the
    spinning-disk 4): a read by key's plan is kept generic after five runs, and a generic
    `key = ANY($1)` cannot hash the array, so at the default the planner scanned small
    tables whole, comparing each row with every key (a page's record reads: 2.7 ms of
    PostgreSQL time with two such scans, 1.6 ms with index reads throughout).
    """
    url = make_url(database_url)
    kwargs: dict[str, Any] = {"echo": echo}
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            # An in-memory database lives in one connection; share it (it rejects pool_size).
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", enable_sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip per checkout. A connection the server dropped fails
    # its first statement; SQLAlchemy then invalidates the pool, so one request per worker
    # sees the outage end, not every request. Connections are recycled hourly regardless.
    if pool_size is None:
        kwargs.update(pool_size=10, max_overflow=20, pool_recycle=3600)
    else:
        kwargs.update(pool_size=pool_size, max_overflow=0, pool_recycle=3600)
        kwargs["connect_args"] = {"server_settings": SERVER_SETTINGS}
    return create_async_engine(url, **kwargs)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class RequestDatabase:
    """One connection per request, opened on first use and shared by the loaders in turn.

    A SQLAlchemy connection runs one statement at a time; DataLoader batches may be
    dispatched concurrently, so they take turns through a lock. A request only reads, so on
    PostgreSQL the connection runs in autocommit: no BEGIN and ROLLBACK round trips around
    its SELECTs (each statement sees the data committed when it starts).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self._lock:
            if self._connection is None:
                connection = await self.engine.connect()
                if connection.dialect.name == "postgresql":
                    await connection.execution_options(isolation_level="AUTOCOMMIT")
                self._connection = connection
            yield self._connection

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
