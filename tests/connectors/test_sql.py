"""`sql` sources against real databases: a SQLite file, and PostgreSQL when HUB_TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.base import Batch, Cursor
from connectors.errors import FatalError
from connectors.registry import build_source
from connectors.sql import SqlSource
from tests.connectors.support import connectors_config, id_number

POSTGRES_URL = os.environ.get("HUB_TEST_DATABASE_URL")
FIELDS = {
    "source_record_id": "enrollment_id",
    "source_updated_at": "updated_at",
    "id_number": "id_no",
    "insurance_type": {"path": "xz", "codes": {"110": "PENSION", "310": "MEDICAL"}},
    "scheme": {"value": "EMPLOYEE"},
    "status": {"path": "zt", "codes": {"1": "ACTIVE", "2": "SUSPENDED"}},
    "enrolled_on": "cbrq",
}
T0 = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)


@dataclass
class DepartmentDatabase:
    url: str
    table: str  # schema-qualified on PostgreSQL

    async def execute(self, statement: str, rows: list[dict[str, Any]] | None = None) -> None:
        engine = create_async_engine(self.url)
        async with engine.begin() as connection:
            await connection.execute(text(statement), rows or {})
        await engine.dispose()

    async def insert(self, rows: list[dict[str, Any]]) -> None:
        columns = "enrollment_id, updated_at, id_no, xz, zt, cbrq"
        values = ":enrollment_id, :updated_at, :id_no, :xz, :zt, :cbrq"
        await self.execute(f"INSERT INTO {self.table} ({columns}) VALUES ({values})", rows)


@pytest.fixture(params=["sqlite", "postgresql"])
async def department_db(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[DepartmentDatabase]:
    """A social security database of the department's own, in its own file or schema."""
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("PostgreSQL half: set HUB_TEST_DATABASE_URL (tests/pgcluster.py does)")
        schema = f"dept_{secrets.token_hex(4)}"
        db = DepartmentDatabase(POSTGRES_URL, f"{schema}.insurance")
        await db.execute(f"CREATE SCHEMA {schema}")
        timestamp = "TIMESTAMP WITH TIME ZONE"
    else:
        db = DepartmentDatabase(f"sqlite+aiosqlite:///{tmp_path / 'social.db'}", "insurance")
        timestamp = "TIMESTAMP"
    await db.execute(
        f"CREATE TABLE {db.table} (enrollment_id INTEGER PRIMARY KEY, updated_at {timestamp} NOT NULL,"
        " id_no VARCHAR(18), xz VARCHAR(8), zt VARCHAR(4), cbrq DATE)"
    )
    yield db
    if request.param == "postgresql":
        await db.execute(f"DROP SCHEMA {db.table.split('.')[0]} CASCADE")


def rows(start: int, count: int, *, at: datetime) -> list[dict[str, Any]]:
    stamp = at if POSTGRES_URL else at.replace(tzinfo=None)
    return [
        {
            "enrollment_id": n,
            "updated_at": stamp,
            "id_no": id_number(n),
            "xz": "110",
            "zt": "1",
            "cbrq": date(2020, 1, 1),
        }
        for n in range(start, start + count)
    ]


def sql_source(db: DepartmentDatabase, *, batch_size: int = 10, **stream: Any) -> SqlSource:
    settings = {
        "table": db.table,
        "watermark_column": "updated_at",
        "key_column": "enrollment_id",
    } | stream
    settings |= {"target": "insurance_enrollment", "fields": FIELDS, "batch_size": batch_size}
    config = connectors_config(
        {
            "social": {
                "kind": "sql",
                "url_env": "SOCIAL_DB_URL",
                "streams": {"enrollments": settings},
            }
        }
    )
    source = build_source(config, "social", env={"SOCIAL_DB_URL": db.url})
    assert isinstance(source, SqlSource)
    return source


async def read_all(source: SqlSource, cursor: Cursor | None = None) -> list[Batch]:
    async with source:
        return [batch async for batch in source.streams["enrollments"].read(cursor)]


def keys(batches: list[Batch]) -> list[int]:
    return [int(r["enrollment_id"]) for b in batches for r in b.records]


async def test_rows_sharing_one_timestamp_across_batch_boundaries_are_read_once(
    department_db: DepartmentDatabase,
) -> None:
    # 25 rows at one instant straddle three batches of 10; a later row follows.
    await department_db.insert(
        rows(1, 5, at=T0)
        + rows(6, 25, at=T0 + timedelta(minutes=1))
        + rows(31, 1, at=T0 + timedelta(minutes=2))
    )
    batches = await read_all(sql_source(department_db))
    assert keys(batches) == list(range(1, 32))
    assert [len(b.records) for b in batches] == [10, 10, 10, 1]


async def test_a_resumed_read_continues_inside_a_run_of_equal_timestamps(
    department_db: DepartmentDatabase,
) -> None:
    await department_db.insert(rows(1, 30, at=T0))
    first = (await read_all(sql_source(department_db)))[0]
    assert first.cursor["key"] == {"type": "int", "value": 10}
    rest = await read_all(sql_source(department_db), first.cursor)
    assert keys([first, *rest]) == list(range(1, 31))


async def test_the_next_read_sees_rows_added_at_the_last_timestamp_and_later(
    department_db: DepartmentDatabase,
) -> None:
    await department_db.insert(rows(1, 12, at=T0))
    cursor = (await read_all(sql_source(department_db)))[-1].cursor
    await department_db.insert(rows(13, 2, at=T0) + rows(15, 1, at=T0 + timedelta(hours=1)))
    assert keys(await read_all(sql_source(department_db), cursor)) == [13, 14, 15]


async def test_a_query_stream_reads_through_a_subquery(department_db: DepartmentDatabase) -> None:
    await department_db.insert(rows(1, 6, at=T0))
    query = f"SELECT * FROM {department_db.table} WHERE zt = '1' AND enrollment_id % 2 = 0"
    source = sql_source(department_db, table=None, query=query, batch_size=2)
    assert keys(await read_all(source)) == [2, 4, 6]


async def test_raw_rows_are_json_ready_for_quarantine(department_db: DepartmentDatabase) -> None:
    await department_db.insert(rows(1, 1, at=T0))
    (batch,) = await read_all(sql_source(department_db))
    (record,) = batch.records
    assert record["cbrq"] == "2020-01-01"
    assert isinstance(record["updated_at"], str)


async def test_a_missing_table_is_a_fatal_error_that_names_the_fix(
    department_db: DepartmentDatabase,
) -> None:
    with pytest.raises(FatalError, match="check table, query and columns"):
        await read_all(sql_source(department_db, table="no_such_table"))
