"""A database outage under load: PostgreSQL stopped and started again while requests keep coming.

Every endpoint answers 503 UNAVAILABLE with Retry-After while the database is away (the
token endpoint included), no connection is dropped without an answer, the hub recovers by
itself, and every request answered with data has its audit event.

The test runs a throwaway PostgreSQL server of its own (tests/pgcluster.py), whatever
database the rest of the suite uses; without PostgreSQL binaries it is skipped, loudly
(`HUB_REQUIRE_POSTGRES=1` makes that a failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.conftest import LiveHub, district_code, run_hub, seed_database
from tests.pgcluster import PostgresNotFoundError, ThrowawayServer, throwaway_server
from tests.security.conftest import write_policy
from tests.security.load import Answer, one
from tests.security.support import events_of

pytestmark = pytest.mark.e2e

QUERY = "{ residents(first: 5) { edges { node { id name } } } }"
CALLERS = 16
DOWN_AT, UP_AT, END_AT = 3.0, 8.0, 16.0


@dataclass
class Outage:
    server: ThrowawayServer
    hub: LiveHub


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    directory = tmp_path_factory.mktemp("outage")
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(throwaway_server())
        except PostgresNotFoundError as error:
            message = f"PostgreSQL OUTAGE TEST NOT RUN: {error}"
            if os.environ.get("HUB_REQUIRE_POSTGRES") == "1":
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        seed_database(server.url, directory / "var")
        hub = stack.enter_context(
            run_hub(
                server.url,
                directory,
                district=district_code(server.url),
                HUB_POLICY=str(write_policy(directory)),
                HUB_TOKEN_TTL_SECONDS="3600",
            )
        )
        yield Outage(server, hub)


async def _load(
    outage: Outage, headers: dict[str, str], form: dict[str, str], auth: tuple[str, str]
) -> tuple[list[Answer], list[httpx.Response | str], list[float]]:
    hub, began = outage.hub, time.perf_counter()
    answers: list[Answer] = []
    tokens: list[httpx.Response | str] = []
    stopped: list[float] = []
    limits = httpx.Limits(max_connections=CALLERS + 2, max_keepalive_connections=CALLERS + 2)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def caller() -> None:  # keep-alive connections, reused across the outage
            while time.perf_counter() - began < END_AT:
                answers.append(
                    await one(client, f"{hub.url}/graphql", {"query": QUERY}, headers, began)
                )
                await asyncio.sleep(0.02)

        async def token_caller() -> None:
            while time.perf_counter() - began < END_AT:
                try:
                    tokens.append(await client.post(f"{hub.url}/oauth/token", data=form, auth=auth))
                except httpx.HTTPError as error:
                    tokens.append(repr(error))
                await asyncio.sleep(0.3)

        async def operator() -> None:
            await asyncio.sleep(DOWN_AT)
            await asyncio.to_thread(outage.server.stop)
            stopped.append(time.perf_counter() - began)
            await asyncio.sleep(UP_AT - DOWN_AT)
            await asyncio.to_thread(outage.server.start)
            stopped.append(time.perf_counter() - began)

        await asyncio.gather(operator(), token_caller(), *(caller() for _ in range(CALLERS)))
    return answers, tokens, stopped


def test_a_database_outage_under_load_is_503_unavailable_everywhere_then_recovers(
    outage: Outage,
) -> None:
    hub = outage.hub
    headers = hub.caller_headers("bulk_reader")
    client = hub.register_client("bulk_reader")
    form = {"grant_type": "client_credentials"}

    answers, tokens, (down, up) = asyncio.run(
        _load(outage, headers, form, (client.client_id, client.client_secret))
    )

    assert [a.failure for a in answers if a.status is None] == []  # none dropped
    assert {a.status for a in answers} <= {200, 503}
    unavailable = [a for a in answers if a.status == 503]
    assert unavailable, "the outage was not noticed"
    assert {(a.code, a.retry_after is not None) for a in unavailable} == {("UNAVAILABLE", True)}, {
        a.body for a in unavailable if a.code != "UNAVAILABLE"
    }
    # Fast: no request hangs on the database (a hang lasts the outage, 5 s, or the pool's
    # timeout). The 95th percentile, not the slowest: one answer of a loaded, shared machine
    # may wait for the scheduler; a hang is every request's.
    waits = sorted(a.seconds for a in unavailable)
    assert waits[int(len(waits) * 0.95)] < 2.5, waits[-10:]
    assert waits[-1] < 10, waits[-10:]
    after = [a for a in answers if a.started > up + 3]
    assert after
    assert {a.status for a in after} == {200}  # recovered by itself
    # The token endpoint: never a bare 500, never a dropped connection.
    assert [t for t in tokens if isinstance(t, str)] == []
    statuses = {t.status_code for t in tokens if isinstance(t, httpx.Response)}
    assert statuses <= {200, 503}
    assert 503 in statuses
    refused = [t for t in tokens if isinstance(t, httpx.Response) and t.status_code == 503]
    assert all(t.headers.get("retry-after") and t.json()["code"] == "UNAVAILABLE" for t in refused)
    # Every request answered with data has its one audit event.
    served = [a.request_id for a in answers if a.status == 200]
    trail = events_of(hub, *served)
    assert sorted(e.request_id for e in trail) == sorted(served)
    assert {e.outcome for e in trail} == {"OK"}
    assert httpx.get(f"{hub.url}/readyz").status_code == 200
    print(
        f"\n{len(answers)} requests: {len(unavailable)} answered 503 between {down:.1f} s and "
        f"{up:.1f} s (median {waits[len(waits) // 2]:.2f} s, p95 "
        f"{waits[int(len(waits) * 0.95)]:.2f} s, max {waits[-1]:.2f} s); token endpoint "
        f"{sorted(statuses)}"
    )
