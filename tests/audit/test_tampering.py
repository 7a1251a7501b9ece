"""Tampering with the trail, one kind at a time: `hub audit verify --checkpoints` names each.

Each test makes six audited requests that return a resident, with signed checkpoints after
the third and the sixth (written to the database and to the checkpoint folder outside
it), then changes the database as an intruder with write access would, and runs the
command against the checkpoints kept outside.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.applications import Starlette
from typer.testing import CliRunner, Result

from hub.audit.records import event_hash
from hub.cli import app as cli
from hub.config import Settings
from hub.storage.models import AuditChain, AuditCheckpoint, AuditEvent, AuditResidentAccess
from tests.conftest import GraphQLClient, World

Tamper = Callable[[AsyncConnection], Awaitable[None]]
LOOKUP = "query($id: ID!) { resident(id: $id) { name } }"


async def audited_requests(world: World, gql: GraphQLClient, app: Starlette) -> None:
    """Six events, each returning one resident; checkpoints at seq 3 and seq 6."""
    grids = await world.tree()
    people = [await world.resident(grids["410105001001001"]) for _ in range(6)]
    for number, person in enumerate(people, start=1):
        await gql(LOOKUP, {"id": person.id})
        if number % 3 == 0:
            assert await app.state.audit.checkpoint() is not None


async def verify_command(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("HUB_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HUB_VAR_DIR", str(settings.var_dir))
    command = ["audit", "verify", "--checkpoints", str(settings.audit_checkpoint_path), *args]
    return await asyncio.to_thread(CliRunner().invoke, cli, command)


async def event_at(connection: AsyncConnection, seq: int) -> dict[str, Any]:
    query = select(AuditEvent.__table__).where(AuditEvent.seq == seq)
    return dict((await connection.execute(query)).one()._mapping)


# --- the tampering kinds ---------------------------------------------------------------------


async def modify(connection: AsyncConnection) -> None:
    await connection.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(purpose="看看"))


async def remove(connection: AsyncConnection) -> None:
    await connection.execute(delete(AuditResidentAccess).where(AuditResidentAccess.seq == 2))
    await connection.execute(delete(AuditEvent).where(AuditEvent.seq == 2))


async def insert_forged(connection: AsyncConnection) -> None:
    """Shift events 3… up by one and slip a well-formed, well-hashed event in at 3."""
    for seq in range(6, 2, -1):
        await connection.execute(
            update(AuditEvent).where(AuditEvent.seq == seq).values(seq=seq + 1)
        )
        await connection.execute(
            update(AuditResidentAccess).where(AuditResidentAccess.seq == seq).values(seq=seq + 1)
        )
    forged = await event_at(connection, 2)
    forged.update(seq=3, prev_hash=forged["hash"], purpose="伪造", request_id="forged")
    forged.pop("id")
    forged["hash"] = event_hash(forged)
    await connection.execute(insert(AuditEvent), [forged])


async def swap(connection: AsyncConnection) -> None:
    for table in (AuditEvent, AuditResidentAccess):
        await connection.execute(update(table).where(table.seq == 3).values(seq=-1))
        await connection.execute(update(table).where(table.seq == 4).values(seq=3))
        await connection.execute(update(table).where(table.seq == -1).values(seq=4))


async def truncate_tail(connection: AsyncConnection) -> None:
    await connection.execute(delete(AuditResidentAccess).where(AuditResidentAccess.seq == 6))
    await connection.execute(delete(AuditEvent).where(AuditEvent.seq == 6))


async def truncate_and_move_head_back(connection: AsyncConnection) -> None:
    """Cut the last two events and make the chain's head say it ends where it now does."""
    head = await event_at(connection, 4)
    await connection.execute(delete(AuditResidentAccess).where(AuditResidentAccess.seq > 4))
    await connection.execute(delete(AuditEvent).where(AuditEvent.seq > 4))
    await connection.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > 4))
    await connection.execute(update(AuditChain).values(head_seq=4, head_hash=head["hash"]))


async def delete_chain(connection: AsyncConnection) -> None:
    for table in (AuditResidentAccess, AuditEvent, AuditCheckpoint, AuditChain):
        await connection.execute(delete(table))


async def rewrite_and_rehash(connection: AsyncConnection) -> None:
    """Edit event 2, recompute every later hash and the head, drop the checkpoints that
    would disagree: the chain in the database is consistent again."""
    query = select(AuditEvent.__table__).order_by(AuditEvent.seq)
    events = [dict(row._mapping) for row in await connection.execute(query)]
    head = events[0]["hash"]
    for event in events[1:]:
        if event["seq"] == 2:
            event["purpose"] = "例行检查"
        event["prev_hash"], event["hash"] = head, event_hash({**event, "prev_hash": head})
        head = event["hash"]
        await connection.execute(
            update(AuditEvent)
            .where(AuditEvent.id == event["id"])
            .values(purpose=event["purpose"], prev_hash=event["prev_hash"], hash=event["hash"])
        )
    await connection.execute(update(AuditChain).values(head_hash=head))
    await connection.execute(delete(AuditCheckpoint))


async def delete_index_rows(connection: AsyncConnection) -> None:
    await connection.execute(delete(AuditResidentAccess).where(AuditResidentAccess.seq == 4))


@pytest.mark.parametrize(
    ("tamper", "kind", "words"),
    [
        pytest.param(modify, "modified", "seq 2", id="modified"),
        pytest.param(remove, "deleted", "event 2 missing", id="deleted"),
        pytest.param(insert_forged, "unlinked", "seq 4", id="inserted"),
        pytest.param(swap, "unlinked", "seq 3", id="swapped"),
        pytest.param(truncate_tail, "truncated", "removed from the end", id="tail-truncated"),
        pytest.param(
            truncate_and_move_head_back,
            "truncated",
            "events 5–6 were removed and the chain's head moved back",
            id="truncated-head-moved-back",
        ),
        pytest.param(
            delete_chain, "chain-deleted", "the whole chain was deleted", id="chain-deleted"
        ),
        pytest.param(
            rewrite_and_rehash,
            "rewritten",
            "rewritten at or before seq 3 and every later hash recomputed",
            id="rewritten-with-recomputed-hashes",
        ),
        pytest.param(
            delete_index_rows, "index-missing", "access report would omit", id="index-rows-deleted"
        ),
    ],
)
async def test_verify_against_the_checkpoints_names_each_kind_of_tampering(
    world: World,
    gql: GraphQLClient,
    app: Starlette,
    engine: AsyncEngine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tamper: Tamper,
    kind: str,
    words: str,
) -> None:
    await audited_requests(world, gql, app)
    untouched = await verify_command(settings, monkeypatch)
    async with engine.begin() as connection:
        await tamper(connection)

    command = await verify_command(settings, monkeypatch)

    assert untouched.exit_code == 0, untouched.output
    assert command.exit_code == 1, command.output
    assert f"{kind}:" in command.output
    assert words in command.output


async def test_untouched_trail_verifies_against_its_checkpoints(
    world: World,
    gql: GraphQLClient,
    app: Starlette,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await audited_requests(world, gql, app)

    command = await verify_command(settings, monkeypatch, "--json")

    assert command.exit_code == 0, command.output
    assert "1 chains, 6 events, 2 checkpoints: all verify" in command.output
    outside = sorted(Path(settings.audit_checkpoint_path).glob("checkpoints-*.jsonl"))
    assert len(outside) == 1
    assert len(outside[0].read_text().splitlines()) == 2


async def test_checkpoint_rows_deleted_from_the_database_are_named(
    world: World,
    gql: GraphQLClient,
    app: Starlette,
    engine: AsyncEngine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await audited_requests(world, gql, app)
    async with engine.begin() as connection:
        await connection.execute(delete(AuditCheckpoint))

    command = await verify_command(settings, monkeypatch)

    assert command.exit_code == 1
    assert "checkpoint-deleted:" in command.output
    assert "seq 3, 6" in command.output


async def test_a_checkpoint_forged_in_the_database_is_refused(
    world: World,
    gql: GraphQLClient,
    app: Starlette,
    engine: AsyncEngine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An intruder cannot sign: a checkpoint row whose payload was edited fails its signature."""
    await audited_requests(world, gql, app)
    async with engine.begin() as connection:
        jws = await connection.scalar(select(AuditCheckpoint.jws).where(AuditCheckpoint.seq == 3))
        assert jws is not None
        header, _, signature = jws.split(".")
        other = await connection.scalar(select(AuditCheckpoint.jws).where(AuditCheckpoint.seq == 6))
        assert other is not None
        forged = ".".join((header, other.split(".")[1], signature))  # seq 6's claims, 3's signature
        await connection.execute(
            update(AuditCheckpoint).where(AuditCheckpoint.seq == 3).values(jws=forged)
        )

    command = await verify_command(settings, monkeypatch)

    assert command.exit_code == 1
    assert "checkpoint-forged:" in command.output
    assert "signature does not verify" in command.output


async def test_archived_events_verify_with_from_and_read_as_deleted_without_it(
    world: World,
    gql: GraphQLClient,
    app: Starlette,
    engine: AsyncEngine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Archiving (README): the events before a time are exported, then deleted."""
    await audited_requests(world, gql, app)
    async with engine.begin() as connection:
        cut = await connection.scalar(select(AuditEvent.at).where(AuditEvent.seq == 4))
        assert cut is not None
        await connection.execute(delete(AuditResidentAccess).where(AuditResidentAccess.at < cut))
        await connection.execute(delete(AuditEvent).where(AuditEvent.at < cut))

    archived = await verify_command(
        settings, monkeypatch, "--from", cut.replace(tzinfo=None).isoformat()
    )
    unexplained = await verify_command(settings, monkeypatch)

    assert archived.exit_code == 0, archived.output
    assert "1 chains, 3 events, 1 checkpoints: all verify" in archived.output
    assert unexplained.exit_code == 1
    assert "deleted:" in unexplained.output
