"""Signed checkpoints: when they are made, where they go, and who can verify them."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.checkpoints import CheckpointError, keys_from_jwks, verify_checkpoint
from hub.config import Settings
from hub.storage.models import AuditCheckpoint, AuditEvent
from tests.conftest import GraphQLClient


class Witness:
    """A real HTTP server on a loopback port that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                outer.received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/checkpoints"


@pytest.fixture
def witness() -> Iterator[Witness]:
    witness = Witness()
    thread = threading.Thread(target=witness.server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield witness
    witness.server.shutdown()
    witness.server.server_close()
    thread.join()


@pytest.fixture
def settings(settings: Settings, witness: Witness, tmp_path: Path) -> Settings:
    """Checkpoints every 4 events (or 30 s), to one file and to the witness."""
    return settings.model_copy(
        update={
            "audit_checkpoint_events": 4,
            "audit_checkpoint_seconds": 30.0,
            "audit_checkpoint_dir": tmp_path / "worm" / "checkpoints.jsonl",
            "audit_witness_url": witness.url,
        }
    )


async def stored(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        query = select(AuditCheckpoint.__table__).order_by(AuditCheckpoint.seq)
        return list((await connection.execute(query)).all())


async def eventually(condition: Callable[[], Any], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


async def test_a_checkpoint_every_n_events_goes_to_the_database_the_file_and_the_witness(
    gql: GraphQLClient, engine: AsyncEngine, settings: Settings, witness: Witness
) -> None:
    for _ in range(9):
        await gql("{ me { clientId } }")

    async def two_checkpoints() -> bool:
        return len(witness.received) == 2

    await eventually(two_checkpoints)
    rows = await stored(engine)
    outside = [json.loads(line) for line in settings.audit_checkpoint_path.read_text().splitlines()]

    first, second = (row.seq for row in rows)  # the checkpointer takes the head it finds
    assert first >= 4
    assert first + 4 <= second <= 9
    assert [line["jws"] for line in outside] == [row.jws for row in rows]
    assert [line["jws"] for line in witness.received] == [row.jws for row in rows]
    async with engine.connect() as connection:
        hashes = dict((await connection.execute(select(AuditEvent.seq, AuditEvent.hash))).all())
    assert [row.hash for row in rows] == [hashes[first], hashes[second]]


async def test_a_quiet_chain_is_checkpointed_after_t_seconds(
    gql: GraphQLClient, engine: AsyncEngine, app: Any
) -> None:
    app.state.audit.checkpointer.every_seconds = 0.2  # the task reads it on each round
    await gql("{ me { clientId } }")

    async def checkpointed() -> bool:
        return [row.seq for row in await stored(engine)] == [1]

    await eventually(checkpointed)


async def test_checkpoints_verify_with_the_published_jwks_and_nothing_else(
    gql: GraphQLClient, http: httpx.AsyncClient, app: Any, tmp_path: Path
) -> None:
    await gql("{ me { clientId } }")
    checkpoint = await app.state.audit.checkpoint()
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes((await http.get("/.well-known/jwks.json")).content)
    other = tmp_path / "other.json"
    stranger = ECKey.generate_key("P-256", private=True)
    other.write_text(json.dumps({"keys": [stranger.as_dict(private=False, kid="stranger")]}))

    claims = verify_checkpoint(checkpoint.jws, keys_from_jwks(jwks))

    assert (claims.seq, claims.hash) == (1, checkpoint.claims.hash)
    with pytest.raises(CheckpointError, match="does not hold"):
        verify_checkpoint(checkpoint.jws, keys_from_jwks(other))


async def test_an_unreachable_witness_holds_up_neither_requests_nor_the_database(
    gql: GraphQLClient, engine: AsyncEngine, app: Any, witness: Witness
) -> None:
    witness.server.shutdown()
    witness.server.server_close()

    answers = [await gql("{ me { clientId } }") for _ in range(5)]

    assert all("errors" not in answer for answer in answers)

    async def checkpointed() -> bool:
        return [row.seq for row in await stored(engine)] == [4]

    await eventually(checkpointed)
