"""Outside OpenID Connect issuers: trusted no further than configured, keys fetched so that a
valid token is never refused for how the hub fetches, clients blocked by issuer."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import Key, RSAKey
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.blocks import block_client, unblock_client
from hub.auth.issuers import IssuerConfigError, TrustedIssuer, check_roles, trusted_issuers
from hub.auth.keys import KeyStore
from hub.auth.policy import load_policy
from hub.auth.tokens import TokenError, TokenVerifier
from hub.auth.tokens.jwks import cache_lifetime
from hub.config import Settings
from hub.storage.base import utcnow
from hub.storage.models import BlockedClient
from hub.storage.session import create_sessionmaker
from tests.hub.test_tokens import sign

POLICY = load_policy()
ISSUER = "https://sso.example.gov.cn/realms/grid"


class Provider:
    """A provider's JWKS endpoint on a loopback port: slow on purpose, with cache headers."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.headers: dict[str, str] = {}
        self.delay = 0.0
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                time.sleep(outer.delay)
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                for name, value in outer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/certs"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def publish(self, *keys: Key) -> None:
        self.document = {"keys": [{**key.as_dict(private=False), "use": "sig"} for key in keys]}


@pytest.fixture
def provider() -> Iterator[Provider]:
    server = Provider()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join()


def new_key(kid: str | None = None) -> RSAKey:
    key = RSAKey.generate_key(2048, private=True)
    if kid is None:
        key.ensure_kid()
    else:
        key = RSAKey.import_key({**key.as_dict(private=True), "kid": kid})
    return key


def token(key: Key, **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "urn:gridhub",
        "sub": "svc-1",
        "client_id": "counter-frontend",
        "roles": ["窗口人员"],
        "grid": "410105001",
        "iat": now,
        "exp": now + 300,
        "jti": f"jti-{time.monotonic_ns()}",
    }
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    return sign({"typ": "at+jwt", "alg": "RS256", "kid": key.kid}, claims, key)


def verifier_for(
    settings: Settings, engine: AsyncEngine, provider: Provider, **options: Any
) -> TokenVerifier:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "jwks_uri": provider.url,
        "audience": "urn:gridhub",
        "allowed_roles": ["service_center_clerk", "grid_worker"],
        "role_map": {"窗口人员": "service_center_clerk", "网格员": "grid_worker"},
        **options,
    }
    trusted = TrustedIssuer.model_validate(values)
    configured = settings.model_copy(update={"trusted_issuers": (trusted,)})
    return TokenVerifier(configured, KeyStore.from_settings(configured), POLICY, engine)


# --- what an issuer may grant ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "granted"),
    [
        pytest.param(["窗口人员"], ("service_center_clerk",), id="mapped"),
        pytest.param(["grid_worker"], ("grid_worker",), id="allowed-as-is"),
        pytest.param(["网格员", "grid_worker"], ("grid_worker",), id="mapped-twice-once"),
        pytest.param(["窗口人员", "admin"], ("service_center_clerk",), id="admin-dropped"),
    ],
)
async def test_roles_are_mapped_and_only_allowed_ones_granted(
    settings: Settings,
    engine: AsyncEngine,
    provider: Provider,
    roles: list[str],
    granted: tuple[str, ...],
) -> None:
    key = new_key()
    provider.publish(key)
    verifier = verifier_for(settings, engine, provider)

    claims = await verifier.verify(token(key, roles=roles))

    assert claims.roles == granted
    assert claims.issuer == ISSUER
    assert claims.scopes == frozenset().union(*(POLICY.role(r).scopes for r in granted))


@pytest.mark.parametrize(
    ("options", "roles"),
    [
        pytest.param({"allowed_roles": [], "role_map": {}}, ["grid_worker"], id="default-none"),
        pytest.param({}, ["admin"], id="admin-not-allowed"),
        pytest.param({}, ["auditor"], id="auditor-not-allowed"),
        pytest.param({"role_map": {}}, ["窗口人员"], id="unmapped-name"),
    ],
)
async def test_an_issuer_grants_no_role_it_was_not_allowed(
    settings: Settings,
    engine: AsyncEngine,
    provider: Provider,
    options: dict[str, Any],
    roles: list[str],
) -> None:
    key = new_key()
    provider.publish(key)
    verifier = verifier_for(settings, engine, provider, **options)

    with pytest.raises(TokenError, match="no role this issuer may grant"):
        await verifier.verify(token(key, roles=roles))


async def test_a_grid_scoped_role_needs_the_grid_claim(
    settings: Settings, engine: AsyncEngine, provider: Provider
) -> None:
    key = new_key()
    provider.publish(key)
    verifier = verifier_for(settings, engine, provider, grid_claim="ext.grid")

    with pytest.raises(TokenError, match="no grid"):
        await verifier.verify(token(key, roles=["网格员"]))
    claims = await verifier.verify(token(key, roles=["网格员"], ext={"grid": "410105001001"}))
    assert (claims.roles, claims.grid) == (("grid_worker",), "410105001001")


# --- key sets ----------------------------------------------------------------------------------


async def test_twenty_concurrent_first_uses_share_one_fetch_and_all_pass(
    settings: Settings, engine: AsyncEngine, provider: Provider
) -> None:
    key = new_key()
    provider.publish(key)
    provider.delay = 0.3  # the fetch is still running when the others arrive
    verifier = verifier_for(settings, engine, provider)

    results = await asyncio.gather(
        *(verifier.verify(token(key)) for _ in range(20)), return_exceptions=True
    )

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert provider.fetches == 1


async def test_after_a_key_change_twenty_concurrent_first_uses_all_pass(
    settings: Settings, engine: AsyncEngine, provider: Provider
) -> None:
    old = new_key()
    provider.publish(old)
    verifier = verifier_for(settings, engine, provider, jwks_refetch_seconds=0.2)
    await verifier.verify(token(old))
    rotated = new_key()
    provider.publish(rotated)
    provider.delay = 0.3
    await asyncio.sleep(0.25)  # past the refetch interval since the first fetch

    results = await asyncio.gather(
        *(verifier.verify(token(rotated)) for _ in range(20)), return_exceptions=True
    )

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert provider.fetches == 2


async def test_unknown_kids_refetch_at_most_once_per_interval(
    settings: Settings, engine: AsyncEngine, provider: Provider
) -> None:
    key = new_key()
    provider.publish(key)
    verifier = verifier_for(settings, engine, provider, jwks_refetch_seconds=60)
    await verifier.verify(token(key))
    forged = [new_key() for _ in range(10)]

    for attacker in forged:
        with pytest.raises(TokenError, match="unknown key"):
            await verifier.verify(token(attacker))

    assert provider.fetches == 1


async def test_a_key_replaced_under_the_same_kid_is_used_at_once(
    settings: Settings, engine: AsyncEngine, provider: Provider
) -> None:
    old = new_key("signing-1")
    provider.publish(old)
    verifier = verifier_for(settings, engine, provider, jwks_refetch_seconds=0)
    await verifier.verify(token(old))
    replacement = new_key("signing-1")
    provider.publish(replacement)

    claims = await verifier.verify(token(replacement))

    assert claims.subject == "svc-1"
    with pytest.raises(TokenError, match="signature"):
        await verifier.verify(token(old))  # and the replaced key no longer verifies


@pytest.mark.parametrize(
    ("headers", "options", "bound"),
    [
        pytest.param(
            {}, {"jwks_cache_min_seconds": 0, "jwks_cache_max_seconds": 0.5}, 0.5, id="upper-bound"
        ),
        pytest.param(
            {"Cache-Control": "public, max-age=1"},
            {"jwks_cache_min_seconds": 0},
            1.0,
            id="provider-max-age",
        ),
        pytest.param(
            {"Cache-Control": "max-age=86400"},
            {"jwks_cache_min_seconds": 0, "jwks_cache_max_seconds": 0.5},
            0.5,
            id="max-age-beyond-the-bound",
        ),
    ],
)
async def test_a_key_removed_at_the_provider_is_refused_within_the_cache_lifetime(
    settings: Settings,
    engine: AsyncEngine,
    provider: Provider,
    headers: dict[str, str],
    options: dict[str, Any],
    bound: float,
) -> None:
    removed, kept = new_key(), new_key()
    provider.publish(removed, kept)
    provider.headers = headers
    verifier = verifier_for(settings, engine, provider, jwks_refetch_seconds=3600, **options)
    await verifier.verify(token(removed))
    provider.publish(kept)

    await verifier.verify(token(removed, jti="still-cached"))  # within the lifetime
    await asyncio.sleep(bound + 0.1)

    with pytest.raises(TokenError, match="unknown key"):
        await verifier.verify(token(removed))
    assert (await verifier.verify(token(kept))).subject == "svc-1"


LIFETIMES = {"jwks_cache_min_seconds": 60.0, "jwks_cache_max_seconds": 600.0}


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        pytest.param({}, 600, id="none-means-the-upper-bound"),
        pytest.param({"cache-control": "max-age=300"}, 300, id="max-age"),
        pytest.param({"cache-control": "max-age=300", "age": "100"}, 200, id="minus-age"),
        pytest.param({"cache-control": "max-age=5"}, 60, id="raised-to-the-lower-bound"),
        pytest.param({"cache-control": "max-age=86400"}, 600, id="cut-to-the-upper-bound"),
        pytest.param({"cache-control": "no-cache"}, 60, id="no-cache"),
        pytest.param({"cache-control": "no-store, max-age=300"}, 60, id="no-store"),
        pytest.param(
            {"expires": "Tue, 01 Dec 2026 10:05:00 GMT", "date": "Tue, 01 Dec 2026 10:00:00 GMT"},
            300,
            id="expires",
        ),
        pytest.param(
            {"expires": "0", "date": "Tue, 01 Dec 2026 10:00:00 GMT"}, 60, id="bad-expires"
        ),
        pytest.param({"cache-control": "max-age=soon"}, 600, id="unreadable-max-age"),
    ],
)
def test_cache_lifetime_follows_the_provider_within_bounds(
    headers: dict[str, str], seconds: float
) -> None:
    trusted = TrustedIssuer(
        issuer=ISSUER, jwks_uri="https://sso.example/certs", audience="g", **LIFETIMES
    )

    assert cache_lifetime(httpx.Headers(headers), trusted) == seconds


# --- blocking ------------------------------------------------------------------------------------


async def test_a_blocked_outside_client_is_refused_and_only_for_its_issuer(
    settings: Settings, engine: AsyncEngine, provider: Provider
) -> None:
    key = new_key()
    provider.publish(key)
    verifier = verifier_for(settings, engine, provider)
    await verifier.verify(token(key))
    sessions = create_sessionmaker(engine)

    async with sessions() as session, session.begin():
        await block_client(session, issuer=ISSUER, client_id="counter-frontend", reason="leaked")
    with pytest.raises(TokenError, match="blocked"):
        await verifier.verify(token(key))
    other = await verifier.verify(token(key, client_id="other-frontend"))
    assert other.client_id == "other-frontend"
    async with sessions() as session, session.begin():  # a namesake at another issuer is not
        await block_client(session, issuer="https://elsewhere.example", client_id="svc-9")
    assert (await verifier.verify(token(key, client_id="svc-9"))).client_id == "svc-9"

    async with sessions() as session, session.begin():
        await unblock_client(session, issuer=ISSUER, client_id="counter-frontend")
    assert (await verifier.verify(token(key))).client_id == "counter-frontend"


async def test_a_block_made_by_another_process_is_honoured_within_the_refresh_interval(
    settings: Settings, engine: AsyncEngine, provider: Provider
) -> None:
    key = new_key()
    provider.publish(key)
    quick = settings.model_copy(update={"revocation_refresh_seconds": 0.3})
    verifier = verifier_for(quick, engine, provider)
    await verifier.verify(token(key))
    async with engine.begin() as connection:  # what `hub clients block` in another process does
        await connection.execute(
            insert(BlockedClient).values(
                issuer=ISSUER, client_id="counter-frontend", blocked_at=utcnow()
            )
        )

    await asyncio.sleep(0.5)

    with pytest.raises(TokenError, match="blocked"):
        await verifier.verify(token(key))


# --- configuration -------------------------------------------------------------------------------

GOOD = {"issuer": ISSUER, "jwks_uri": "https://sso.example.gov.cn/certs", "audience": "g"}


@pytest.mark.parametrize(
    ("entries", "production", "problem"),
    [
        pytest.param(
            [{**GOOD, "rolesclaim": "roles"}],
            False,
            "issuers[0].rolesclaim: unknown key",
            id="unknown-key",
        ),
        pytest.param(
            [{**GOOD, "algorithms": ["HS256"]}],
            False,
            "'HS256' is not an asymmetric",
            id="symmetric",
        ),
        pytest.param(
            [{**GOOD, "algorithms": ["none"]}], False, "'none' is not an asymmetric", id="none"
        ),
        pytest.param(
            [{**GOOD, "algorithms": []}], False, "at least one algorithm", id="no-algorithm"
        ),
        pytest.param(
            [{**GOOD, "jwks_uri": "http://127.0.0.1:9/certs"}],
            True,
            "https only",
            id="http-in-prod",
        ),
        pytest.param(
            [{**GOOD, "jwks_uri": "http://sso.example/certs"}],
            False,
            "loopback",
            id="http-not-loopback",
        ),
        pytest.param(
            [{**GOOD, "jwks_uri": "certs.json"}], False, "not an absolute https URL", id="relative"
        ),
        pytest.param([GOOD, {**GOOD, "audience": "h"}], False, "configured twice", id="duplicate"),
        pytest.param(
            [{**GOOD, "issuer": "http://127.0.0.1:8000"}],
            False,
            "the hub's own issuer",
            id="own-issuer",
        ),
        pytest.param(
            [{**GOOD, "role_map": {"x": "admin"}}],
            False,
            "which allowed_roles does not list",
            id="map-beyond-allowed",
        ),
        pytest.param(
            [{**GOOD, "jwks_cache_min_seconds": 700}],
            False,
            "above jwks_cache_max_seconds",
            id="bounds",
        ),
        pytest.param([{"issuer": ISSUER}], False, "jwks_uri: required", id="missing"),
        pytest.param(["https://sso.example"], False, "must be an object", id="not-an-object"),
    ],
)
def test_bad_issuer_configurations_are_refused_in_one_line(
    entries: list[Any], production: bool, problem: str
) -> None:
    with pytest.raises(IssuerConfigError) as refused:
        trusted_issuers(
            entries, file=None, hub_issuer="http://127.0.0.1:8000", production=production
        )

    message = str(refused.value)
    assert problem in message
    assert "\n" not in message
    assert message.startswith("HUB_TRUSTED_ISSUERS: ")


def test_roles_the_policy_does_not_define_are_refused() -> None:
    trusted = TrustedIssuer.model_validate({**GOOD, "allowed_roles": ["superuser"]})

    with pytest.raises(IssuerConfigError, match="superuser, which the policy does not define"):
        check_roles([trusted], POLICY.roles)


def test_the_toml_file_and_the_json_variable_share_one_schema(tmp_path: Path) -> None:
    path = tmp_path / "issuers.toml"
    path.write_text(
        f"""
[[issuers]]
issuer = "{ISSUER}"
jwks_uri = "https://sso.example.gov.cn/certs"
audience = "urn:gridhub"
roles_claim = "realm_access.roles"
allowed_roles = ["grid_worker"]
role_map = {{ "网格员" = "grid_worker" }}
""",
        encoding="utf-8",
    )
    as_json = [
        {
            "issuer": ISSUER,
            "jwks_uri": "https://sso.example.gov.cn/certs",
            "audience": "urn:gridhub",
            "roles_claim": "realm_access.roles",
            "allowed_roles": ["grid_worker"],
            "role_map": {"网格员": "grid_worker"},
        }
    ]

    from_file = trusted_issuers(None, file=path, hub_issuer="x", production=True)
    from_json = trusted_issuers(as_json, file=None, hub_issuer="x", production=True)

    assert from_file == from_json
    path.write_text(path.read_text(encoding="utf-8") + 'colour = "blue"\n', encoding="utf-8")
    with pytest.raises(IssuerConfigError, match=r"issuers\[0\]\.colour: unknown key"):
        trusted_issuers(None, file=path, hub_issuer="x", production=True)
    with pytest.raises(IssuerConfigError, match="not both"):
        trusted_issuers(as_json, file=path, hub_issuer="x", production=True)
