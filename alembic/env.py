"""Alembic environment: runs GridHub's migrations on its async engine (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Connection

from alembic import context
from hub.config import Settings
from hub.storage import models  # noqa: F401 - registers every table on the metadata
from hub.storage.base import Base
from hub.storage.session import create_engine

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    return config.attributes.get("database_url") or Settings().database_url


def _configure(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # Batch mode rebuilds a table by copy, drop and rename; with foreign keys on, dropping
        # `residents` would cascade-delete every record pointing at it. The pragma works only
        # outside a transaction: set it, end the empty one it opened, then migrate.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
    finally:  # a migration that fails (a missing HUB_FIELD_KEY …) leaves no connection behind
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
