"""Tamper evidence: `hub audit verify` names the first event that a change broke."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from typer.testing import CliRunner

from hub.audit.records import event_hash
from hub.audit.verify import verify_all
from hub.cli import app as cli
from hub.storage.models import AuditEvent
from tests.conftest import GraphQLClient

Tamper = Callable[[AsyncConnection], Awaitable[None]]


async def event_at(connection: AsyncConnection, seq: int) -> dict[str, Any]:
    row = (
        await connection.execute(select(AuditEvent.__table__).where(AuditEvent.seq == seq))
    ).one()
    return dict(row._mapping)


async def modify(connection: AsyncConnection) -> None:
    await connection.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(purpose="看看"))


async def modify_and_rehash(connection: AsyncConnection) -> None:
    """A forger who recomputes the event's own hash still breaks the link to its successor."""
    event = await event_at(connection, 3)
    event["purpose"] = "看看"
    await connection.execute(
        update(AuditEvent).where(AuditEvent.seq == 3).values(purpose="看看", hash=event_hash(event))
    )


async def remove(connection: AsyncConnection) -> None:
    await connection.execute(delete(AuditEvent).where(AuditEvent.seq == 3))


async def insert_forged(connection: AsyncConnection) -> None:
    """Shift events 3… up by one and slip a well-formed, well-hashed event in at 3."""
    last = (
        await connection.execute(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()))
    ).first()
    assert last is not None
    for seq in range(last[0], 2, -1):
        await connection.execute(
            update(AuditEvent).where(AuditEvent.seq == seq).values(seq=seq + 1)
        )
    forged = await event_at(connection, 2)
    forged.update(seq=3, prev_hash=forged["hash"], purpose="伪造", request_id="forged")
    forged.pop("id")
    forged["hash"] = event_hash(forged)
    await connection.execute(insert(AuditEvent), [forged])


async def reorder(connection: AsyncConnection) -> None:
    await connection.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(seq=-1))
    await connection.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(seq=3))
    await connection.execute(update(AuditEvent).where(AuditEvent.seq == -1).values(seq=4))


async def truncate_tail(connection: AsyncConnection) -> None:
    last = (
        await connection.execute(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()))
    ).first()
    assert last is not None
    await connection.execute(delete(AuditEvent).where(AuditEvent.seq == last[0]))


async def make_events(gql: GraphQLClient, count: int = 6) -> None:
    for _ in range(count):
        await gql("{ me { clientId } }")


async def test_untouched_chain_verifies(gql: GraphQLClient, engine: AsyncEngine) -> None:
    await make_events(gql)

    [report] = await verify_all(engine)

    assert report.ok
    assert report.events == report.head_seq == 6


@pytest.mark.parametrize(
    ("tamper", "first_bad_seq", "words"),
    [
        pytest.param(modify, 3, "modified", id="modified"),
        pytest.param(modify_and_rehash, 4, "predecessor", id="modified-and-rehashed"),
        pytest.param(remove, 4, "missing", id="deleted"),
        pytest.param(insert_forged, 4, "predecessor", id="inserted"),
        pytest.param(reorder, 3, "predecessor", id="reordered"),
        pytest.param(truncate_tail, None, "removed from the end", id="tail-truncated"),
    ],
)
async def test_tampering_is_found_at_the_first_event_it_breaks(
    gql: GraphQLClient,
    engine: AsyncEngine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tamper: Tamper,
    first_bad_seq: int | None,
    words: str,
) -> None:
    await make_events(gql)
    async with engine.begin() as connection:
        await tamper(connection)

    [report] = await verify_all(engine)
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    command = await asyncio.to_thread(CliRunner().invoke, cli, ["audit", "verify"])

    assert not report.ok
    assert report.seq == first_bad_seq
    assert words in (report.problem or "")
    assert command.exit_code == 1
    assert report.chain_id in command.output


async def test_export_streams_every_event_as_jsonl_and_csv(
    gql: GraphQLClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_events(gql, 3)
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    runner = CliRunner()

    jsonl = await asyncio.to_thread(runner.invoke, cli, ["audit", "export", "--format", "jsonl"])
    csv = await asyncio.to_thread(runner.invoke, cli, ["audit", "export", "--format", "csv"])

    assert jsonl.exit_code == 0, jsonl.output
    lines = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3]
    assert all(line["outcome"] == "OK" for line in lines)
    rows = csv.stdout.splitlines()
    assert rows[0].startswith("id,chain_id,seq,at")
    assert len(rows) == 4
