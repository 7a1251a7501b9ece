"""The server's PostgreSQL pool: HUB_DB_POOL_SIZE connections per worker, none beyond."""

from __future__ import annotations

from sqlalchemy.pool import QueuePool

from hub.config import Settings
from hub.storage.session import create_engine

URL = "postgresql+asyncpg://gridhub@127.0.0.1:1/gridhub"  # never connected to here


async def test_the_server_pool_holds_its_size_and_opens_no_overflow() -> None:
    engine = create_engine(URL, pool_size=Settings(db_pool_size=7).db_pool_size)
    try:
        pool = engine.sync_engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool._max_overflow) == (7, 0)
    finally:
        await engine.dispose()


async def test_commands_keep_the_elastic_pool() -> None:
    engine = create_engine(URL)
    try:
        pool = engine.sync_engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool._max_overflow) == (10, 20)
    finally:
        await engine.dispose()


def test_the_default_budget_fits_two_workers_in_postgresql_default_limit() -> None:
    per_worker = Settings().db_pool_size + 2  # the request pool, the audit writer, a reload
    assert 2 * per_worker <= 100 - 3  # max_connections minus superuser_reserved_connections
