"""A flood of bad logins at the token endpoint does not slow a legitimate client.

Twenty failed client authentications a second arrive from another address (127.0.0.2:
the loopback network is all ours) — unknown client ids and wrong secrets for the legitimate
client's own id — while the legitimate client keeps getting tokens from 127.0.0.1. The
token p99 is held to 100 ms beyond what the machine adds to a trivial control server's
answers at the same time (support.py), so a loaded CI box does not fail it and a blocked
event loop still does. The p99 is taken over well more than a hundred tokens, so that it is
not simply the slowest one: a single hiccup of a shared machine (one token of 86 took 320 ms
while both halves of the suite ran) is held to the probe's stall bound instead.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time

import httpx
import pytest

from tests.e2e.conftest import ClientCredentials, LiveHub
from tests.security.support import STALL, while_probed

pytestmark = pytest.mark.e2e

FLOOD_PER_SECOND = 20
SECONDS = 10.0
FORM = {"grant_type": "client_credentials"}


async def _flood(url: str, victim: str) -> list[int]:
    statuses: list[int] = []
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(transport=transport, timeout=30) as client:

        async def bad_login(n: int) -> None:
            client_id = victim if n % 2 else f"gh_{secrets.token_urlsafe(16)}"
            response = await client.post(
                f"{url}/oauth/token", data=FORM, auth=(client_id, secrets.token_urlsafe(32))
            )
            statuses.append(response.status_code)

        started, tasks = time.perf_counter(), []
        for n in range(int(FLOOD_PER_SECOND * SECONDS)):  # on a clock: a slow loop catches up
            await asyncio.sleep(max(0.0, started + n / FLOOD_PER_SECOND - time.perf_counter()))
            tasks.append(asyncio.create_task(bad_login(n)))
        await asyncio.gather(*tasks)
    return statuses


async def _legitimate(url: str, client: ClientCredentials) -> list[tuple[int, float]]:
    answers: list[tuple[int, float]] = []
    async with httpx.AsyncClient(timeout=30) as http:
        started = time.perf_counter()
        while time.perf_counter() - started < SECONDS:
            begun = time.perf_counter()
            response = await http.post(
                f"{url}/oauth/token", data=FORM, auth=(client.client_id, client.client_secret)
            )
            answers.append((response.status_code, time.perf_counter() - begun))
            await asyncio.sleep(0.01)
    return answers


def test_a_legitimate_client_gets_tokens_fast_while_bad_logins_flood_the_endpoint(
    guarded_hub: LiveHub,
) -> None:
    client = guarded_hub.register_client("service_center_clerk", grid=guarded_hub.district_code)

    async def both() -> tuple[list[int], list[tuple[int, float]]]:
        flood = asyncio.create_task(_flood(guarded_hub.url, client.client_id))
        legitimate = await _legitimate(guarded_hub.url, client)
        return await flood, legitimate

    with while_probed(guarded_hub) as probe:
        flood, legitimate = asyncio.run(both())

    latencies = sorted(seconds for _, seconds in legitimate)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    # What the machine adds to a trivial server's answers meanwhile (about a millisecond on a
    # quiet machine): the token endpoint is held to 100 ms on top of it.
    noise = probe.noise(0.99)
    print(
        f"\n{len(flood)} bad logins ({sorted(set(flood))}); {len(legitimate)} tokens, median "
        f"{statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
        f"(control p99 {noise * 1000:.0f} ms)"
    )
    assert len(flood) >= FLOOD_PER_SECOND * SECONDS * 0.9
    assert set(flood) <= {401, 429}
    assert 429 in flood  # the flooding address is throttled
    assert {status for status, _ in legitimate} == {200}
    assert len(latencies) >= 120, "too few tokens for a 99th percentile"
    assert p99 < 0.1 + noise
    assert latencies[-1] < STALL + max(probe.control)
