"""One runner per stream: a PostgreSQL session advisory lock, or a process-local lock on SQLite."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_LOCAL_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}
_LOCAL_LOCKS_GUARD = threading.Lock()


def advisory_lock_key(connector: str, stream: str) -> int:
    """A stable signed 64-bit key per stream (pg advisory locks take a bigint)."""
    digest = hashlib.sha256(f"gridhub.sync:{connector}/{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@asynccontextmanager
async def stream_lock(engine: AsyncEngine, connector: str, stream: str) -> AsyncIterator[bool]:
    """Yield whether this process now runs the stream alone; never waits for a held lock."""
    if engine.dialect.name == "postgresql":
        async with _advisory_lock(engine, advisory_lock_key(connector, stream)) as acquired:
            yield acquired
        return
    with _LOCAL_LOCKS_GUARD:
        lock = _LOCAL_LOCKS.setdefault((str(engine.url), connector, stream), threading.Lock())
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


@asynccontextmanager
async def _advisory_lock(engine: AsyncEngine, key: int) -> AsyncIterator[bool]:
    # A session lock on a connection held for the whole run: a run spans many transactions,
    # and the lock dies with the connection if the process does.
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        acquired = bool(result.scalar())
        await connection.commit()  # do not sit "idle in transaction" while holding the lock
        try:
            yield acquired
        finally:
            if acquired:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await connection.commit()
