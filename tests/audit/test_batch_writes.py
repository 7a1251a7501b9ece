"""A batch of events is written in as few statements as the database allows, index rows included."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.records import AuditRecord, Outcome
from hub.audit.sinks import AsyncSink
from hub.audit.verify import verify_all
from hub.audit.writer import AuditWriter
from hub.storage import direct
from hub.storage.base import utcnow
from hub.storage.models import AuditChain, AuditEvent, AuditResidentAccess


def record(number: int, residents: list[str]) -> AuditRecord:
    return AuditRecord(
        at=utcnow(),
        request_id=f"request-{number}",
        endpoint="graphql",
        outcome=Outcome.OK,
        duration_us=10,
        resident_ids=residents,
        fields=["Resident.name"],
    )


@contextmanager
def statements_run(engine: AsyncEngine) -> Iterator[list[str]]:
    """The first word of every statement the engine's connections run, and whether the
    driver ran it in autocommit (asyncpg then opens no transaction: no BEGIN, no COMMIT)."""
    seen: list[str] = []

    def on_execute(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        driver = connection.connection.dbapi_connection
        mode = "autocommit" if getattr(driver, "autocommit", False) else "transaction"
        seen.append(f"{statement.split()[0].upper()} {mode}")

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", on_execute)


async def index_rows(engine: AsyncEngine, chain_id: str) -> set[tuple[int, str]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(AuditResidentAccess.seq, AuditResidentAccess.resident_id).where(
                AuditResidentAccess.chain_id == chain_id
            )
        )
        return {(row.seq, row.resident_id) for row in rows}


async def test_a_batch_writes_every_event_and_one_index_row_per_resident_returned(
    engine: AsyncEngine,
) -> None:
    writer = AuditWriter(engine)
    pages = [[f"r-{page}-{n}" for n in range(page * 40)] for page in range(4)]  # 0, 40, 80, 120
    try:
        await writer.append(record(0, ["first"]))  # starts the chain
        await asyncio.gather(*(writer.append(record(n + 1, ids)) for n, ids in enumerate(pages)))
    finally:
        await writer.stop()

    expected = {(1, "first")} | {
        (seq, resident) for seq, ids in enumerate(pages, start=2) for resident in ids
    }
    assert await index_rows(engine, writer.chain_id) == expected
    async with engine.connect() as connection:
        head = await connection.scalar(
            select(AuditChain.head_seq).where(AuditChain.chain_id == writer.chain_id)
        )
    assert head == 5
    [report] = await verify_all(engine)
    assert report.ok, report.problems
    assert report.events == 5


async def test_on_postgresql_a_batch_of_pages_is_one_statement_without_begin_or_commit(
    engine: AsyncEngine, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct_runs: list[str] = []
    run_direct = direct.execute

    async def recorded(connection: Any, statement: Any, parameters: Any) -> None:
        raw = await connection.get_raw_connection()
        mode = "transaction" if raw.driver_connection.is_in_transaction() else "autocommit"
        direct_runs.append(
            f"{str(statement.compile(dialect=connection.dialect)).split()[0].upper()} {mode}"
        )
        await run_direct(connection, statement, parameters)

    monkeypatch.setattr(direct, "execute", recorded)
    writer = AuditWriter(engine)
    try:
        await writer.append(record(0, []))  # the chain and its partitions are written first
        with statements_run(engine) as seen:
            await asyncio.gather(
                writer.append(record(1, [f"a-{n}" for n in range(100)])),
                writer.append(record(2, [f"b-{n}" for n in range(100)])),
            )
    finally:
        await writer.stop()

    assert len(await index_rows(engine, writer.chain_id)) == 200
    [report] = await verify_all(engine)
    assert report.ok, report.problems
    if is_postgres:  # one batch, or two if the second request came late: never BEGIN/COMMIT,
        # and run straight on asyncpg (hub/storage/direct.py), so SQLAlchemy sees none of it
        assert seen == []
        assert direct_runs in (["WITH autocommit"], ["WITH autocommit"] * 2)


async def test_on_postgresql_direct_and_sqlalchemy_batches_store_the_same_rows(
    engine: AsyncEngine, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch statement run straight on asyncpg stores what SQLAlchemy stored: one chain
    written both ways verifies, and the rows' columns hold the same kinds of values."""
    if not is_postgres:
        pytest.skip("the direct path runs on PostgreSQL only")
    writer = AuditWriter(engine)
    try:
        await writer.append(record(0, ["first"]))
        await writer.append(record(1, ["a", "b"]))  # direct
        monkeypatch.setattr(direct, "alone", lambda _statement: False)
        await writer.append(record(2, ["a", "b"]))  # SQLAlchemy
    finally:
        await writer.stop()
    [report] = await verify_all(engine)
    assert report.ok, report.problems
    assert report.events == 3
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(AuditEvent.__table__)
                .where(AuditEvent.chain_id == writer.chain_id)
                .order_by(AuditEvent.seq)
            )
        ).all()
    by_direct, by_sqlalchemy = (row._mapping for row in rows[1:])
    varying = {"id", "seq", "at", "request_id", "hash", "prev_hash"}
    for name in by_direct:
        if name not in varying:
            assert by_direct[name] == by_sqlalchemy[name], name
        assert type(by_direct[name]) is type(by_sqlalchemy[name]), name
    assert await index_rows(engine, writer.chain_id) == {
        (1, "first"),
        (2, "a"),
        (2, "b"),
        (3, "a"),
        (3, "b"),
    }


@pytest.mark.parametrize("statement", ["SELECT pg_sleep(0.3)", "marked alone"])
async def test_a_cancelled_batch_write_stays_a_cancellation_and_the_next_write_succeeds(
    engine: AsyncEngine, is_postgres: bool, statement: str
) -> None:
    """A write cancelled mid-statement (its task's timeout, a shutdown) ends in CancelledError
    and leaves no half-used connection behind: the next batch is written on a fresh one.
    Both PostgreSQL paths: SQLAlchemy's (in autocommit) and the direct one (a statement
    marked to run alone)."""
    if not is_postgres:
        pytest.skip("the async sink writes PostgreSQL batches")
    slow: Any = text("SELECT pg_sleep(0.3)")
    if statement == "marked alone":
        slow = direct.runs_alone(text("SELECT pg_sleep(:seconds)"))
    parameters = [{"seconds": 0.3}] if statement == "marked alone" else None
    sink = AsyncSink(engine)
    try:
        await sink.write([(text("SELECT 1"), None)])
        for delay in (0.01, 0.1):
            task = asyncio.create_task(sink.write([(slow, parameters)]))
            await asyncio.sleep(delay)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await sink.write([(text("SELECT 1"), None)])
    finally:
        await sink.close()
