"""The human resources and social security bureau's database (人社): two tables, SQL as it is.

`si_enrollment` uses the national social insurance data dictionary's column codes (aac001 个人
编号 — here the record id, aac002 身份证号, aac003 姓名, aae140 险种类型, aac008 参保状态, aae030
开始日期, aab004 单位名称) plus `xzlx` (险种类别 职工/居民); `sa_grant` holds social assistance.
`updated_at` is TIMESTAMP WITHOUT TIME ZONE in China Standard Time, as the bureau's own
database keeps it; about 30 % of rows share their `updated_at` with others (batch loads).

Works on any SQLAlchemy URL with an async driver (`sqlite+aiosqlite:///file.db`,
`postgresql+asyncpg://…`); plain `sqlite://` and `postgresql://` URLs are given those drivers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    MetaData,
    Numeric,
    String,
    Table,
    delete,
    insert,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection

    from hub.demo.simulators.world import DepartmentWorld

metadata = MetaData()

si_enrollment = Table(
    "si_enrollment",
    metadata,
    Column("aac001", String(32), primary_key=True),
    Column("aac002", String(32), nullable=False),  # not CHAR(18): bad numbers must fit too
    Column("aac003", String(64), nullable=False),
    Column("aae140", String(3), nullable=False),
    Column("xzlx", String(8), nullable=False),
    Column("aac008", String(1), nullable=False),
    Column("aae030", Date, nullable=False),
    Column("aab004", String(128)),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_si_enrollment_updated_at", "updated_at", "aac001"),
)

sa_grant = Table(
    "sa_grant",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("id_card", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("grant_type", String(16), nullable=False),
    Column("amount", Numeric(10, 2), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("status", String(8), nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_sa_grant_updated_at", "updated_at", "id"),
)

TABLES = {"si_enrollment": si_enrollment, "sa_grant": sa_grant}
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(url: str | URL) -> URL:
    """`url` with an async driver, so callers may pass the plain form."""
    parsed = make_url(url)
    return parsed.set(drivername=_ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername))


async def _insert(connection: AsyncConnection, table: Table, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), 5000):  # bounded statements; SQLite caps bound parameters
        await connection.execute(insert(table), rows[start : start + 5000])


async def create_social_database(url: str | URL, world: DepartmentWorld) -> None:
    """(Re)create both tables at `url` and fill them with the world's social security records."""
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.run_sync(metadata.create_all)
            for name, table in TABLES.items():
                await _insert(connection, table, list(world.streams[name].records.values()))
    finally:
        await engine.dispose()


async def write_social_rows(
    url: str | URL, world: DepartmentWorld, table: str, ids: Iterable[str]
) -> None:
    """Replace rows `ids` of `table` with the world's current version (one transaction)."""
    stream = world.streams[table]
    wanted = list(ids)
    key = TABLES[table].c[stream.spec.id_field]
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as connection:
            await connection.execute(delete(TABLES[table]).where(key.in_(wanted)))
            await _insert(connection, TABLES[table], [stream.records[i] for i in wanted])
    finally:
        await engine.dispose()


async def update_social_records(
    url: str | URL,
    world: DepartmentWorld,
    *,
    table: str = "si_enrollment",
    count: int = 10,
    now: datetime | None = None,
) -> list[str]:
    """Records updated while a sync runs: edit `count` rows and stamp them `now`; their ids."""
    touched = world.touch(table, count=count, now=now)
    await write_social_rows(url, world, table, touched)
    return touched


async def inject_social_bad_records(
    url: str | URL,
    world: DepartmentWorld,
    *,
    table: str = "si_enrollment",
    invalid_id_numbers: int = 0,
    unknown_residents: int = 0,
) -> list[str]:
    """Add rows a connector must quarantine (bad ID numbers, unknown people); their ids."""
    added = [
        *world.inject_invalid_ids(table, invalid_id_numbers),
        *world.inject_unknown_residents(table, unknown_residents),
    ]
    await write_social_rows(url, world, table, added)
    return added
