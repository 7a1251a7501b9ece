"""Floods of refusals: unauthenticated and rate-limited requests are counted, not stored one by one.

Bound: at most two events per address, refusal kind, client and minute (the first refusal
at once, the rest of the minute as one counted event), whatever the request rate.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import httpx
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request

from hub.audit.records import Outcome
from hub.audit.trail import AuditTrail
from hub.audit.verify import verify_all
from hub.auth.caller import Caller
from hub.errors import ErrorCode
from hub.storage.models import AuditEvent

FLOOD = 3000


async def events(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        query = select(AuditEvent.__table__).order_by(AuditEvent.seq)
        return list((await connection.execute(query)).all())


def request_from(address: str, request_id: str) -> Request:
    """A real starlette request, as the limits middleware would hand it over."""
    headers = [(b"x-request-id", request_id.encode())]
    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": headers}
    return Request({**scope, "client": (address, 40000), "query_string": b""})


async def test_a_flood_of_unauthenticated_requests_adds_at_most_two_events_a_minute(
    http: httpx.AsyncClient, app: Starlette, engine: AsyncEngine
) -> None:
    started = time.time()
    statuses = set()
    for number in range(FLOOD):
        response = await http.post(
            "/graphql",
            json={"query": "{ me { clientId } }"},
            headers={"X-Request-Id": f"flood-{number}", "Authorization": "Bearer nonsense"},
        )
        statuses.add(response.status_code)
    minutes = math.floor(time.time() / 60) - math.floor(started / 60) + 1
    await app.state.audit.stop()  # what the app does when it stops: counts are flushed

    trail = await events(engine)
    size = sum(len(orjson.dumps(dict(row._mapping), default=str)) for row in trail)
    print(
        f"\n{FLOOD} unauthenticated requests over {time.time() - started:.1f} s "
        f"({minutes} minute(s)): {len(trail)} events, {size:,} bytes of event data",
        file=sys.stderr,
    )
    assert statuses == {401}
    assert len(trail) <= 2 * minutes
    assert sum(row.request_count for row in trail) == FLOOD
    counts = {row.request_id: row.request_count for row in trail}
    assert counts["flood-0"] == 1  # the first of the minute, at once
    assert "flood-1" in counts  # the first of those counted (in later minutes, alike)
    assert {(row.outcome, tuple(row.error_codes)) for row in trail} == {
        ("DENIED", ("UNAUTHENTICATED",))
    }
    [chain] = await verify_all(engine)
    assert chain.ok, chain.problem


async def test_rate_limited_refusals_are_counted_per_address_and_client(
    app: Starlette, engine: AsyncEngine
) -> None:
    trail: AuditTrail = app.state.audit
    alice = Caller(client_id="alice", roles=("health_officer",))
    bob = Caller(client_id="bob", roles=("health_officer",))
    for number in range(50):
        for address, caller in (("10.0.0.1", alice), ("10.0.0.1", bob), ("10.0.0.2", alice)):
            await trail.record_refusal(
                request_from(address, f"{address}-{caller.client_id}-{number}"),
                endpoint="graphql",
                outcome=Outcome.LIMITED,
                code=ErrorCode.RATE_LIMITED,
                caller=caller,
            )
    await trail.stop()

    counted: dict[tuple[str, str], int] = {}
    for row in await events(engine):
        key = (row.client_address, row.client_id)
        counted[key] = counted.get(key, 0) + row.request_count
    assert counted == {
        ("10.0.0.1", "alice"): 50,
        ("10.0.0.1", "bob"): 50,
        ("10.0.0.2", "alice"): 50,
    }
    assert len(await events(engine)) <= 2 * 3 * 2  # two minutes at the very most


async def test_other_refusals_are_each_their_own_event(app: Starlette, engine: AsyncEngine) -> None:
    trail: AuditTrail = app.state.audit
    for number in range(5):
        await trail.record_refusal(
            request_from("10.0.0.3", f"bad-{number}"),
            endpoint="graphql",
            outcome=Outcome.REJECTED,
            code=ErrorCode.BAD_USER_INPUT,
        )

    rows = await events(engine)

    assert [row.request_id for row in rows] == [f"bad-{number}" for number in range(5)]
    assert {row.request_count for row in rows} == {1}
