"""A real OpenID Connect provider (node oidc-provider, client credentials, RFC 9068 JWT access
tokens for `urn:gridhub`) trusted by `hub serve` through HUB_TRUSTED_ISSUERS_FILE.

Its tokens grant only the hub roles the configuration allows, mapped from the provider's role
names; grid-scoped roles need the grid claim. Twenty concurrent first uses, after start-up and
after a key change, are all accepted; a key removed at the provider stops being accepted
within the cache bound; a blocked client is refused; a bad configuration stops `hub serve`
with one line. The provider is skipped, loudly, like the gateway when node_modules lacks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from hub.storage.session import create_engine
from tests.e2e.conftest import (
    HUB_BIN,
    LiveHub,
    _hub_env,
    district_code,
    e2e_database,
    run_hub,
    seed_database,
)
from tests.e2e.outside_provider import new_key, provider_process

pytestmark = pytest.mark.e2e

CACHE_BOUND = 3.0  # jwks_cache_max_seconds in the hub's configuration below
REFETCH = 1.0  # jwks_refetch_seconds
ME = "{ me { clientId roles grid { code } } }"
RESIDENTS = "{ residents(first: 200) { totalCount edges { node { grid { code path } } } } }"


@dataclass
class OidcProvider:
    """oidc-provider on a loopback port: `url` is its issuer."""

    url: str
    secrets: dict[str, str]
    log_path: Path

    def token(self, client_id: str) -> str:
        response = httpx.post(
            f"{self.url}/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, self.secrets[client_id]),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def replace_keys(self, *keys: dict[str, Any]) -> None:
        response = httpx.post(f"{self.url}/_test/keys", json={"keys": list(keys)}, timeout=10)
        assert response.status_code == 204, response.text


@dataclass
class Hub:
    """`hub serve` trusting the provider, with its environment for `hub …` commands."""

    live: LiveHub
    district: str
    building: str
    street: str
    issuer: str
    env: dict[str, str] = field(default_factory=dict)

    def ask(self, token: str, query: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "X-Request-Purpose": "e2e: outside issuer"}
        return self.live.post(query, headers=headers)


CLIENTS = {
    # client id → (the provider's role names, grid claim)
    "counter": (["窗口人员"], "street"),
    "worker": (["网格员"], "building"),
    "health": (["health_officer"], None),
    "grabber": (["admin", "auditor", "网格长"], None),
    "gridless": (["网格员"], None),
}


@contextlib.contextmanager
def run_provider(
    directory: Path, grids: dict[str, str], keys: list[dict[str, Any]]
) -> Iterator[OidcProvider]:
    secrets = {client: f"secret-of-{client}-{os.urandom(8).hex()}" for client in CLIENTS}
    clients = []
    for client, (roles, grid) in CLIENTS.items():
        entry: dict[str, Any] = {
            "client_id": client,
            "client_secret": secrets[client],
            "roles": roles,
        }
        if grid is not None:
            entry["grid"] = grids[grid]
        clients.append(entry)
    config = {"clients": clients, "keys": keys, "cache_control": "max-age=60"}
    with provider_process(directory, config) as (url, log_path):
        yield OidcProvider(url, secrets, log_path)


def issuers_toml(issuer: str) -> str:
    # The provider says max-age=60; the hub's upper bound is CACHE_BOUND seconds.
    return f"""
[[issuers]]
issuer = "{issuer}"
jwks_uri = "{issuer}/jwks"
audience = "urn:gridhub"
algorithms = ["RS256"]
roles_claim = "roles"
grid_claim = "grid"
allowed_roles = ["service_center_clerk", "grid_worker", "health_officer"]
role_map = {{ "窗口人员" = "service_center_clerk", "网格员" = "grid_worker" }}
jwks_cache_min_seconds = 0
jwks_cache_max_seconds = {CACHE_BOUND}
jwks_refetch_seconds = {REFETCH}
"""


@dataclass
class World:
    database_url: str
    directory: Path
    grids: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A seeded district of its own (the hub processes below share its database and keys)."""
    directory = tmp_path_factory.mktemp("outside_issuer")
    with e2e_database(directory) as database_url:
        seed_database(database_url, directory / "var")
        district = district_code(database_url)
        grids = asyncio.run(_grids(database_url, district))
        yield World(database_url, directory, grids)


async def _grids(database_url: str, district: str) -> dict[str, str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = text(
                "SELECT g.code, g.level FROM grids g WHERE EXISTS "
                "(SELECT 1 FROM residents r WHERE r.grid_code = g.code) ORDER BY g.code"
            )
            building = (await connection.execute(query)).first()
    finally:
        await engine.dispose()
    assert building is not None
    return {"district": district, "building": building[0], "street": building[0][:9]}


@contextlib.contextmanager
def serving(world: World, provider: OidcProvider, **env: str) -> Iterator[Hub]:
    """`hub serve` trusting `provider` (a fresh process: no key set fetched yet)."""
    config = world.directory / "issuers.toml"
    config.write_text(issuers_toml(provider.url), encoding="utf-8")
    settings = {"HUB_TRUSTED_ISSUERS_FILE": str(config), "HUB_TOKEN_TTL_SECONDS": "3600", **env}
    with run_hub(
        world.database_url, world.directory, district=world.grids["district"], **settings
    ) as live:
        yield Hub(
            live,
            district=world.grids["district"],
            building=world.grids["building"],
            street=world.grids["street"],
            issuer=provider.url,
            env=dict(live.env),
        )


@pytest.fixture(scope="module")
def provider(world: World) -> Iterator[OidcProvider]:
    with run_provider(world.directory / "provider", world.grids, [new_key()]) as running:
        yield running


@pytest.fixture(scope="module")
def hub(world: World, provider: OidcProvider) -> Iterator[Hub]:
    with serving(world, provider, HUB_REVOCATION_REFRESH_SECONDS="0.5") as running:
        yield running


# --- what an outside issuer may grant -----------------------------------------------------------


def test_provider_roles_are_mapped_onto_the_roles_the_hub_allows(
    hub: Hub, provider: OidcProvider
) -> None:
    counter = hub.ask(provider.token("counter"), ME).json()
    health = hub.ask(provider.token("health"), ME).json()

    assert counter["data"]["me"] == {
        "clientId": "counter",
        "roles": ["service_center_clerk"],
        "grid": {"code": hub.street},
    }
    assert health["data"]["me"]["roles"] == ["health_officer"]
    assert health["data"]["me"]["grid"] is None


def test_the_grid_claim_confines_a_grid_scoped_role(hub: Hub, provider: OidcProvider) -> None:
    mine = hub.ask(provider.token("worker"), RESIDENTS).json()["data"]["residents"]
    district = hub.ask(provider.token("health"), RESIDENTS).json()["data"]["residents"]

    assert 0 < mine["totalCount"] < district["totalCount"]
    assert {edge["node"]["grid"]["code"] for edge in mine["edges"]} == {hub.building}


@pytest.mark.parametrize(
    ("client", "reason"),
    [
        pytest.param("grabber", "no role this issuer may grant", id="admin-and-auditor-claimed"),
        pytest.param("gridless", "grid-scoped role but no grid", id="no-grid-claim"),
    ],
)
def test_tokens_claiming_what_the_issuer_may_not_grant_are_refused(
    hub: Hub, provider: OidcProvider, client: str, reason: str
) -> None:
    response = hub.ask(provider.token(client), ME)

    assert response.status_code == 401
    assert reason in response.headers["www-authenticate"]


def test_a_blocked_outside_client_is_refused_and_accepted_again_when_unblocked(
    hub: Hub, provider: OidcProvider
) -> None:
    token = provider.token("counter")
    assert hub.ask(token, ME).status_code == 200
    block = [str(HUB_BIN), "clients", "block", "counter", "--issuer", hub.issuer]

    subprocess.run(block, env=hub.env, check=True, capture_output=True, timeout=60)
    time.sleep(1.0)  # the hub's revocation refresh bound is 0.5 s

    refused = hub.ask(token, ME)
    assert refused.status_code == 401
    assert "blocked" in refused.headers["www-authenticate"]
    assert hub.ask(provider.token("health"), ME).status_code == 200  # other clients go on
    unblock = [str(HUB_BIN), "clients", "unblock", "counter", "--issuer", hub.issuer]
    subprocess.run(unblock, env=hub.env, check=True, capture_output=True, timeout=60)
    time.sleep(1.0)
    assert hub.ask(token, ME).status_code == 200


def test_the_audit_event_names_the_outside_issuer(hub: Hub, provider: OidcProvider) -> None:
    response = hub.ask(provider.token("health"), ME)
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]

    async def issuer_of_event() -> str | None:
        """The event's issuer, once the trail has written it (events are written in batches)."""
        engine = create_engine(hub.live.database_url)
        query = text("SELECT issuer FROM audit_events WHERE request_id = :id")
        try:
            for _ in range(100):
                async with engine.connect() as connection:
                    found = (await connection.execute(query, {"id": request_id})).first()
                if found is not None:
                    return str(found[0]) if found[0] is not None else None
                await asyncio.sleep(0.1)
            raise AssertionError(f"no audit event for request {request_id}")
        finally:
            await engine.dispose()

    assert asyncio.run(issuer_of_event()) == hub.issuer


# --- key sets ---------------------------------------------------------------------------------------


def concurrently(hub: Hub, tokens: list[str]) -> list[int]:
    """Status of each request, all sent at once (one connection each)."""

    async def one(token: str) -> int:
        async with httpx.AsyncClient(timeout=30) as client:
            headers = {"Authorization": f"Bearer {token}", "X-Request-Purpose": "e2e"}
            response = await client.post(hub.live.endpoint(), json={"query": ME}, headers=headers)
            return response.status_code

    async def every() -> list[int]:
        return list(await asyncio.gather(*(one(token) for token in tokens)))

    return asyncio.run(every())


def test_twenty_concurrent_first_uses_after_start_up_and_after_a_key_change_all_pass(
    world: World, tmp_path: Path
) -> None:
    old = new_key()
    with run_provider(tmp_path / "provider", world.grids, [old]) as provider:
        clients = ["counter", "worker", "health"] * 7
        with serving(world, provider) as hub:
            first = concurrently(hub, [provider.token(c) for c in clients[:20]])
            provider.replace_keys(new_key())
            time.sleep(REFETCH + 0.2)  # the hub refetches on an unknown kid at most this often
            after_change = concurrently(hub, [provider.token(c) for c in clients[:20]])

    assert first == [200] * 20
    assert after_change == [200] * 20


def test_a_key_removed_at_the_provider_is_refused_within_the_cache_bound(
    world: World, tmp_path: Path
) -> None:
    removed, kept = new_key(), new_key()
    with (
        run_provider(tmp_path / "provider", world.grids, [removed]) as provider,
        serving(world, provider) as hub,
    ):
        token = provider.token("health")
        assert hub.ask(token, ME).status_code == 200
        provider.replace_keys(kept)
        started = time.monotonic()
        while hub.ask(token, ME).status_code == 200:
            assert time.monotonic() - started < CACHE_BOUND + REFETCH + 2, "still accepted"
            time.sleep(0.2)
        refused_after = time.monotonic() - started
        refused = hub.ask(token, ME)
        fresh = hub.ask(provider.token("health"), ME)

    assert refused.status_code == 401
    assert "unknown key" in refused.headers["www-authenticate"]
    assert refused_after <= CACHE_BOUND + 1
    assert fresh.status_code == 200


# --- configuration ------------------------------------------------------------------------------

ISSUER = "https://sso.example.gov.cn/realms/grid"
GOOD = f'issuer = "{ISSUER}"\njwks_uri = "{ISSUER}/certs"\naudience = "urn:gridhub"\n'


@pytest.mark.parametrize(
    ("toml", "env", "problem"),
    [
        pytest.param(
            GOOD + 'rolesclaim = "roles"\n',
            {},
            "issuers[0].rolesclaim: unknown key",
            id="unknown-key",
        ),
        pytest.param(
            GOOD + 'algorithms = ["HS256"]\n', {}, "'HS256' is not an asymmetric", id="symmetric"
        ),
        pytest.param(
            GOOD + 'algorithms = ["none"]\n', {}, "'none' is not an asymmetric", id="none"
        ),
        pytest.param(
            GOOD.replace(
                "https://sso.example.gov.cn/realms/grid/certs", "http://127.0.0.1:9/certs"
            ),
            {"HUB_ENV": "prod"},
            "production fetches keys over https only",
            id="http-in-prod",
        ),
        pytest.param(
            GOOD.replace(f"{ISSUER}/certs", "http://sso.example.gov.cn/certs"),
            {},
            "only on a loopback address",
            id="http-not-loopback",
        ),
        pytest.param(
            f"[[issuers]]\n{GOOD}\n[[issuers]]\n{GOOD}", {}, "configured twice", id="duplicate"
        ),
        pytest.param(
            GOOD + 'allowed_roles = ["root"]\n',
            {},
            "root, which the policy does not define",
            id="unknown-role",
        ),
        pytest.param(
            GOOD + 'allowed_roles = ["grid_worker"]\nrole_map = { "boss" = "admin" }\n',
            {},
            "which allowed_roles does not list",
            id="map-beyond-allowed",
        ),
        pytest.param("[[issuers]\n", {}, "is not TOML", id="not-toml"),
        pytest.param(
            GOOD,
            {"HUB_TRUSTED_ISSUERS": "[]"},
            "not both",
            id="file-and-variable",
        ),
        pytest.param(
            None, {"HUB_TRUSTED_ISSUERS": "[{"}, "HUB_TRUSTED_ISSUERS is not JSON", id="bad-json"
        ),
        pytest.param(
            None,
            {"HUB_TRUSTED_ISSUERS_FILE": "/nonexistent/issuers.toml"},
            "cannot read",
            id="missing-file",
        ),
    ],
)
def test_a_bad_issuer_configuration_stops_hub_serve_with_one_line(
    tmp_path: Path, toml: str | None, env: dict[str, str], problem: str
) -> None:
    settings = dict(env)
    if toml is not None:
        path = tmp_path / "issuers.toml"
        body = toml if toml.startswith("[[issuers]") else "[[issuers]]\n" + toml
        path.write_text(body, encoding="utf-8")
        settings.setdefault("HUB_TRUSTED_ISSUERS_FILE", str(path))
    hub_env = {
        **_hub_env(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", tmp_path / "var"),
        **settings,
    }

    completed = subprocess.run(
        [str(HUB_BIN), "serve", "--port", "9"],
        env=hub_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )

    lines = completed.stderr.strip().splitlines()
    assert completed.returncode == 1, completed.stderr
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("error: ")
    assert problem in lines[0]
    assert "Traceback" not in completed.stderr
