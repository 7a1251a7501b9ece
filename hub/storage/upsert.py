"""INSERT … ON CONFLICT DO NOTHING, one statement on both SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.base import Base


async def insert_or_ignore(
    connection: AsyncConnection, model: type[Base], values: dict[str, Any]
) -> bool:
    """Add the row unless its primary key exists; True when a row was added.

    One statement rather than SELECT-then-INSERT, so two concurrent writers of the same key
    cannot both see it missing (a used client assertion must count once).
    """
    table = model.__table__
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    primary_key = next(iter(table.primary_key.columns))  # type: ignore[attr-defined]
    statement = (
        dialect.insert(table).values(**values).on_conflict_do_nothing().returning(primary_key)
    )
    result = await connection.execute(statement)
    return result.first() is not None
