"""The token endpoint's failed-login throttles are shared by every process serving a database.

Two `hub serve` processes on one database (a SQLite file, or one PostgreSQL database): what
a guesser runs into through one is enforced by the other, within the throttles' bounded
staleness (a worker writes its failures within a second and reads a key's count when its copy
is a second old), and a server started afterwards knows it too (the counts survive a
restart). The right secret from elsewhere still passes: nobody locks a client out.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from hub.auth.runtime import ADDRESS_FAILURES, CLIENT_FAILURES
from hub.storage.models import LoginFailures
from hub.storage.session import create_engine
from tests.e2e.conftest import (
    LiveHub,
    district_code,
    e2e_database,
    run_hub,
    seed_database,
)
from tests.security.conftest import write_policy

pytestmark = pytest.mark.e2e

FORM = {"grant_type": "client_credentials"}
PAIR_FAILURES = 5  # FailureThrottle's default, per (client id, address)
# A failure is written within a second; a worker's copy of a key is at most a second old.
SHARED_WITHIN = 2.0
SLACK = 3.0  # a shared, loaded machine's scheduling


def _login(hub: LiveHub, client_id: str, secret: str, *, address: str) -> int:
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=30) as http:
        response = http.post(f"{hub.url}/oauth/token", data=FORM, auth=(client_id, secret))
        return response.status_code


def _until(check: Callable[[], bool], *, within: float) -> float:
    """Seconds until `check()` holds; fails past `within`."""
    started = time.perf_counter()
    while not check():
        waited = time.perf_counter() - started
        assert waited < within, f"not shared after {waited:.1f} s"
        time.sleep(0.1)
    return time.perf_counter() - started


def _stored_failures(hub: LiveHub, client_id: str, address: str) -> int:
    """The failures of one (client id, address) every server has written so far."""

    async def read() -> int:
        engine = create_engine(hub.database_url)
        try:
            async with engine.connect() as connection:
                found = await connection.scalar(
                    select(LoginFailures.failures).where(
                        LoginFailures.key == f"pair:{client_id}|{address}"
                    )
                )
            return int(found or 0)
        finally:
            await engine.dispose()

    return asyncio.run(read())


@contextlib.contextmanager
def _two_hubs(directory: Path) -> Iterator[tuple[LiveHub, LiveHub, str, Path]]:
    with e2e_database(directory) as database_url:
        seed_database(database_url, directory / "var")
        district = district_code(database_url)
        settings = {"HUB_TOKEN_TTL_SECONDS": "3600", "HUB_POLICY": str(write_policy(directory))}
        with (
            run_hub(database_url, directory, district=district, **settings) as one,
            run_hub(database_url, directory, district=district, **settings) as other,
        ):
            yield one, other, district, directory


def test_a_throttle_reached_through_one_server_is_enforced_by_another(tmp_path: Path) -> None:
    with _two_hubs(tmp_path) as (one, other, district, _):
        client = one.register_client("service_center_clerk", grid=district)
        wrong = secrets.token_urlsafe(32)
        # The other server has seen these keys already: its copies must be brought up to date.
        assert _login(other, client.client_id, client.client_secret, address="127.0.0.3") == 200
        assert _login(other, client.client_id, client.client_secret, address="127.0.0.4") == 200

        # One address spraying unknown client ids through the first server...
        sprayed = [
            _login(one, f"gh_{secrets.token_urlsafe(12)}", wrong, address="127.0.0.3")
            for _ in range(ADDRESS_FAILURES)
        ]
        assert set(sprayed) == {401}
        # ...and wrong secrets for the client from another address.
        guessed = [
            _login(one, client.client_id, wrong, address="127.0.0.4") for _ in range(PAIR_FAILURES)
        ]
        assert set(guessed) == {401}

        # The other server refuses both, before any work: even the right secret waits.
        def refused(address: str) -> Callable[[], bool]:
            return lambda: (
                _login(other, client.client_id, client.client_secret, address=address) == 429
            )

        waited = _until(refused("127.0.0.3"), within=SHARED_WITHIN + SLACK)

        # A success clears its own (client, address) count: probed with the right secret
        # while the first server's five failures were only partly written, the other
        # server would rightly let it in and clear them. So the probe waits for all five.
        def written() -> bool:
            return _stored_failures(one, client.client_id, "127.0.0.4") >= PAIR_FAILURES

        waited = max(waited, _until(written, within=SHARED_WITHIN + SLACK))
        waited = max(waited, _until(refused("127.0.0.4"), within=SHARED_WITHIN + SLACK))
        print(f"\nshared after {waited:.2f} s")
        # The client itself is not locked out: its right secret from its own address passes.
        assert _login(other, client.client_id, client.client_secret, address="127.0.0.1") == 200
        assert _login(one, client.client_id, client.client_secret, address="127.0.0.1") == 200


def test_wrong_secrets_for_one_client_counted_by_one_server_are_refused_by_another(
    tmp_path: Path,
) -> None:
    with _two_hubs(tmp_path) as (one, other, district, directory):
        client = one.register_client("service_center_clerk", grid=district)
        assert _login(other, client.client_id, "not-it", address="127.0.2.1") == 401  # seen there
        # Guesses through the first server, from a new address each time (no other throttle).
        statuses = [
            _login(one, client.client_id, secrets.token_urlsafe(32), address=f"127.0.1.{n + 1}")
            for n in range(CLIENT_FAILURES)
        ]
        assert statuses[: CLIENT_FAILURES - 2] == [401] * (CLIENT_FAILURES - 2)
        assert statuses[-1] == 429

        # Once: every wrong attempt counts too, so polling could reach the limit by itself.
        time.sleep(SHARED_WITHIN + 1.0)
        assert _login(other, client.client_id, "not-it", address="127.0.2.2") == 429
        # The right secret still passes (nobody locks a client out).
        assert _login(other, client.client_id, client.client_secret, address="127.0.3.1") == 200

        # A server started afterwards reads the counts from the database.
        settings = {"HUB_TOKEN_TTL_SECONDS": "3600", "HUB_POLICY": str(write_policy(directory))}
        with run_hub(one.database_url, directory, district=district, **settings) as third:
            assert _login(third, client.client_id, "not-it", address="127.0.2.3") == 429
            assert _login(third, client.client_id, client.client_secret, address="127.0.3.2") == 200
