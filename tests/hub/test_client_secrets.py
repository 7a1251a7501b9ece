"""Client secrets under a fast keyed hash, the argon2 upgrade, and the token endpoint's throttles."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.auth import clients
from hub.auth.client_secrets import ClientSecretHasher, ClientSecretKeyError, client_secret_key
from hub.auth.oauth.routes import oauth_routes
from hub.auth.policy import load_policy
from hub.auth.runtime import ADDRESS_FAILURES, CLIENT_FAILURES, AuthRuntime
from hub.config import Settings
from hub.storage.models import OAuthClient
from tests.conftest import FAST_HASHER, World

POLICY = load_policy()
FORM = {"grant_type": "client_credentials"}


@pytest.fixture
def runtime(settings: Settings, engine: AsyncEngine) -> AuthRuntime:
    return AuthRuntime.create(settings, engine, POLICY, password_hasher=FAST_HASHER)


def client_from(runtime: AuthRuntime, address: str) -> httpx.AsyncClient:
    app = Starlette(routes=oauth_routes(runtime))
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url=runtime.settings.issuer)


@pytest.fixture
async def oauth(runtime: AuthRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with client_from(runtime, "192.0.2.10") as http:
        yield http


async def register(runtime: AuthRuntime, hasher: clients.SecretHasher) -> tuple[str, str]:
    async with runtime.sessionmaker() as session, session.begin():
        client, secret = await clients.register_client(
            session, name="client", role="auditor", policy=POLICY, hasher=hasher
        )
    assert secret is not None
    return client.client_id, secret


async def stored_hash(runtime: AuthRuntime, client_id: str) -> str | None:
    async with runtime.sessionmaker() as session:
        client = await session.get(OAuthClient, client_id)
        assert client is not None
        return client.secret_hash


def test_secrets_hash_to_a_keyed_hmac_that_verifies_only_the_right_secret() -> None:
    hasher = ClientSecretHasher(b"k" * 32)
    stored = hasher.hash("s3cret")

    assert stored.startswith("hmac-sha256$")
    assert len(stored) == len("hmac-sha256$") + 64
    assert hasher.verify(stored, "s3cret")
    assert not hasher.verify(stored, "guess")
    assert not ClientSecretHasher(b"other key").verify(stored, "s3cret")
    assert not hasher.verify(None, "s3cret")  # an unknown client


def test_an_unknown_client_costs_what_a_wrong_secret_costs_microseconds_not_milliseconds() -> None:
    hasher = ClientSecretHasher(b"k" * 32)
    stored = hasher.hash("s3cret")

    def per_check(stored_hash: str | None) -> float:
        started = time.perf_counter()
        for _ in range(1000):
            hasher.verify(stored_hash, "guess")
        return (time.perf_counter() - started) / 1000

    unknown, wrong = per_check(None), per_check(stored)

    assert max(unknown, wrong) < 0.001
    assert 0.2 < unknown / wrong < 5


def test_the_key_is_generated_in_dev_and_required_in_prod(tmp_path: Path) -> None:
    dev = Settings(var_dir=tmp_path, env="dev")

    assert client_secret_key(dev) == client_secret_key(dev)
    assert (tmp_path / "client-secret.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ClientSecretKeyError, match="HUB_CLIENT_SECRET_KEY"):
        client_secret_key(Settings(var_dir=tmp_path, env="prod"))


async def test_an_argon2_secret_still_works_and_is_rehashed_with_the_keyed_hash(
    runtime: AuthRuntime, oauth: httpx.AsyncClient, world: World
) -> None:
    client_id, secret = await register(runtime, FAST_HASHER)
    assert (await stored_hash(runtime, client_id) or "").startswith("$argon2")

    first = await oauth.post("/oauth/token", data=FORM, auth=(client_id, secret))
    upgraded = await stored_hash(runtime, client_id)
    second = await oauth.post("/oauth/token", data=FORM, auth=(client_id, secret))
    wrong = await oauth.post("/oauth/token", data=FORM, auth=(client_id, "guess"))

    assert first.status_code == 200
    assert upgraded == runtime.secret_hasher.hash(secret)
    assert second.status_code == 200
    assert wrong.status_code == 401


async def test_an_address_spraying_guesses_is_refused_before_any_work(
    runtime: AuthRuntime, oauth: httpx.AsyncClient, world: World
) -> None:
    client_id, secret = await register(runtime, runtime.secret_hasher)

    statuses = [
        (await oauth.post("/oauth/token", data=FORM, auth=(f"gh_unknown{n}", "x"))).status_code
        for n in range(ADDRESS_FAILURES + 3)
    ]
    right_from_there = await oauth.post("/oauth/token", data=FORM, auth=(client_id, secret))
    async with client_from(runtime, "198.51.100.20") as elsewhere:
        right_from_elsewhere = await elsewhere.post(
            "/oauth/token", data=FORM, auth=(client_id, secret)
        )

    assert statuses[:ADDRESS_FAILURES] == [401] * ADDRESS_FAILURES
    assert set(statuses[ADDRESS_FAILURES:]) == {429}
    assert right_from_there.status_code == 429
    assert int(right_from_there.headers["Retry-After"]) > 0
    assert right_from_elsewhere.status_code == 200


async def test_failing_for_a_client_from_many_addresses_never_locks_the_client_out(
    runtime: AuthRuntime, world: World
) -> None:
    client_id, secret = await register(runtime, runtime.secret_hasher)

    statuses = []
    for n in range(CLIENT_FAILURES + 3):  # a new address each time: no other throttle trips
        async with client_from(runtime, f"203.0.113.{n}") as attacker:
            response = await attacker.post("/oauth/token", data=FORM, auth=(client_id, "guess"))
            statuses.append(response.status_code)
    async with client_from(runtime, "192.0.2.99") as legitimate:
        right = await legitimate.post("/oauth/token", data=FORM, auth=(client_id, secret))

    assert statuses[: CLIENT_FAILURES - 1] == [401] * (CLIENT_FAILURES - 1)
    assert set(statuses[CLIENT_FAILURES:]) == {429}
    assert right.status_code == 200


def test_the_hasher_verifies_what_argon2_stored_before() -> None:
    legacy = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    hasher = ClientSecretHasher(b"k" * 32, legacy)
    stored = legacy.hash("s3cret")

    assert hasher.verify(stored, "s3cret")
    assert not hasher.verify(stored, "guess")
    assert hasher.needs_upgrade(stored)
    assert not hasher.needs_upgrade(hasher.hash("s3cret"))
