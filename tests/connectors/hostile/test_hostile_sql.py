"""Hostile department databases: a real SQLite file, and PostgreSQL when HUB_TEST_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from connectors.base import Source
from connectors.registry import build_source
from hub.storage.models import RunStatus
from tests.conftest import World, quarantine_rows
from tests.connectors.hostile.support import bounded, residents, run
from tests.connectors.support import BASE_TIME, connectors_config, id_number

POSTGRES_URL = os.environ.get("HUB_TEST_DATABASE_URL")
FIELDS = {
    "source_record_id": "id",
    "source_updated_at": "updated_at",
    "id_number": "id_no",
    "vaccine": "vaccine",
    "dose_number": "dose",
    "administered_on": {"path": "jzrq", "formats": ["%Y%m%d"]},
}
SUCCEEDED, FAILED = RunStatus.SUCCEEDED, RunStatus.FAILED


@dataclass
class Department:
    url: str
    table: str
    kind: str

    async def execute(self, statement: str, rows: list[dict[str, Any]] | None = None) -> None:
        engine = create_async_engine(self.url)
        async with engine.begin() as connection:
            await connection.execute(text(statement), rows or {})
        await engine.dispose()

    async def insert(self, *numbers: int, at: datetime | str | None = None, **values: Any) -> None:
        rows = [self.row(n, at=at, **values) for n in numbers]
        columns = ", ".join(rows[0])
        places = [f":{c}" for c in rows[0]]
        if isinstance(at, str) and self.kind == "postgresql":  # 'infinity' is text to asyncpg
            places[1] = "CAST(CAST(:updated_at AS TEXT) AS TIMESTAMP WITH TIME ZONE)"
        await self.execute(
            f"INSERT INTO {self.table} ({columns}) VALUES ({', '.join(places)})", rows
        )

    def row(self, n: int, *, at: datetime | str | None, **values: Any) -> dict[str, Any]:
        stamp: Any = at or BASE_TIME + timedelta(minutes=n)
        if isinstance(stamp, datetime) and self.kind == "sqlite":
            stamp = stamp.replace(tzinfo=None)  # SQLite keeps naive text; the zone is the source's
        return {
            "id": n, "updated_at": stamp, "id_no": id_number(n), "vaccine": "乙肝疫苗",
            "dose": 1, "jzrq": "20240305",
        } | values  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
async def department(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Department]:
    """The health department's own database: its own SQLite file, or its own PostgreSQL schema."""
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("PostgreSQL half: set HUB_TEST_DATABASE_URL (tests/pgcluster.py does)")
        schema = f"dept_{secrets.token_hex(4)}"
        db = Department(POSTGRES_URL, f"{schema}.jzjl", "postgresql")
        await db.execute(f"CREATE SCHEMA {schema}")
        stamp, extra = "TIMESTAMP WITH TIME ZONE", ", tags TEXT[]"
    else:
        db = Department(f"sqlite+aiosqlite:///{tmp_path / 'health.db'}", "jzjl", "sqlite")
        stamp, extra = "TIMESTAMP", ""
    await db.execute(
        f"CREATE TABLE {db.table} (id INTEGER PRIMARY KEY, updated_at {stamp} NOT NULL, "
        f"id_no VARCHAR(18), vaccine VARCHAR(64), dose INTEGER, jzrq VARCHAR(8){extra})"
    )
    yield db
    if request.param == "postgresql":
        await db.execute(f"DROP SCHEMA {db.table.split('.')[0]} CASCADE")


def sql_source(db: Department, *, fields: dict[str, Any] = FIELDS, **options: Any) -> Source:
    stream: dict[str, Any] = {
        "table": db.table,
        "watermark_column": "updated_at",
        "key_column": "id",
    }
    stream |= {"target": "vaccination", "fields": fields, "batch_size": 10}
    stream |= {k: v for k, v in options.items() if k == "lookback"}
    source = {k: v for k, v in options.items() if k != "lookback"}
    config = {"kind": "sql", "url_env": "HEALTH_DB", "streams": {"records": stream}} | source
    return build_source(connectors_config({"health": config}), "health", env={"HEALTH_DB": db.url})


def keys(*numbers: int) -> list[str]:
    return sorted(str(n) for n in numbers)


async def test_a_row_dated_in_the_far_future_is_quarantined_and_the_cursor_stays_before_it(
    department: Department, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    await department.insert(1, 2, 3, 4, 5)
    forever = "infinity" if department.kind == "postgresql" else "9999-12-31 23:59:59"
    await department.insert(6, at=forever)
    with bounded(seconds=10, megabytes=20):
        first = await run(engine, sql_source(department))
    assert first.summary.status is SUCCEEDED
    assert (first.written, first.quarantined) == (keys(1, 2, 3, 4, 5), {"6": "FUTURE_TIMESTAMP"})
    assert first.cursor["key"] == {"type": "int", "value": 5}

    await department.insert(7, at=BASE_TIME + timedelta(days=1))  # later, but not forever
    second = await run(engine, sql_source(department))
    assert second.summary.status is SUCCEEDED
    assert second.written == keys(1, 2, 3, 4, 5, 7)
    assert second.quarantined == {"6": "FUTURE_TIMESTAMP"}  # read again, refused again
    assert second.cursor["key"] == {"type": "int", "value": 7}


async def test_a_late_row_behind_the_cursor_arrives_through_the_lookback_window(
    department: Department, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    await department.insert(1, 2, 3)
    await run(engine, sql_source(department, lookback="2h"))
    await department.insert(9, at=BASE_TIME + timedelta(seconds=90))  # between rows 1 and 2
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, sql_source(department, lookback="2h"))
    assert done.summary.status is SUCCEEDED
    assert done.written == keys(1, 2, 3, 9)
    assert (done.summary.counts.inserted, done.summary.counts.unchanged) == (1, 3)
    assert done.cursor["key"] == {"type": "int", "value": 3}  # never moved back
    assert done.quarantined == {}


@contextmanager
def _sqlite_locked(path: str) -> Iterator[None]:
    """Another program holds the department's SQLite file exclusively (readers wait)."""
    ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        ready.set()
        release.wait(30)
        connection.execute("ROLLBACK")
        connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    ready.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join()


async def test_a_locked_source_table_fails_the_run_at_the_statement_timeout(
    department: Department, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    await department.insert(1, 2)
    source = sql_source(department, statement_timeout_seconds=1)
    if department.kind == "postgresql":
        holder = create_async_engine(department.url)
        async with holder.connect() as connection:
            await connection.execute(
                text(f"LOCK TABLE {department.table} IN ACCESS EXCLUSIVE MODE")
            )
            with bounded(seconds=6, megabytes=20):
                done = await run(engine, source)
            await connection.rollback()
        await holder.dispose()
        reason = "did not finish within 1 s (statement_timeout_seconds)"
    else:
        with _sqlite_locked(department.url.split("///", 1)[1]), bounded(seconds=6, megabytes=20):
            done = await run(engine, source)
        reason = "stayed locked for 1 s (statement_timeout_seconds)"
    assert done.summary.status is FAILED
    assert reason in str(done.summary.error)
    assert "To recover: nothing is lost" in str(done.summary.error)
    assert (done.written, done.quarantined, done.cursor) == ([], {}, None)


@pytest.mark.parametrize("department", ["postgresql"], indirect=True)
async def test_a_list_where_text_is_expected_is_quarantined_not_stored_as_its_repr(
    department: Department, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    await department.insert(1, 2)
    await department.execute(
        f"INSERT INTO {department.table} (id, updated_at, id_no, vaccine, dose, jzrq, tags) "
        f"VALUES (3, now() - interval '1 day', '{id_number(3)}', 'x', 1, '20240305', "
        "ARRAY['乙肝', '疫苗'])"
    )
    fields = FIELDS | {"vaccine": "tags"}  # a mapping mistake: tags is a list
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, sql_source(department, fields=fields))
    assert done.summary.status is SUCCEEDED
    assert done.quarantined == {"1": "SCHEMA_ERROR", "2": "SCHEMA_ERROR", "3": "SCHEMA_ERROR"}
    assert done.written == []
    rows = await quarantine_rows(engine)  # the payload is sealed at rest; opened here
    stored = {str(row.payload["id"]): (row.message, row.payload) for row in rows}
    assert "expected a single value, got a list" in stored["3"][0]
    assert stored["3"][1]["tags"] == ["乙肝", "疫苗"]  # the payload keeps the list as JSON
    assert done.cursor is not None
    assert "watermark" not in done.cursor


async def test_a_refused_database_connection_names_the_scheme_host_and_port(
    world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"postgresql+asyncpg://reader:secret@127.0.0.1:{port}/health"
    db = Department(url, "jzjl", "postgresql")
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, sql_source(db))
    assert done.summary.status is FAILED
    error = str(done.summary.error)
    assert f"cannot reach the database at postgresql+asyncpg://127.0.0.1:{port}/health" in error
    assert "secret" not in error
    assert (done.written, done.quarantined, done.cursor) == ([], {}, None)
    await asyncio.sleep(0)
