"""People sign in to the consoles at a trusted outside OpenID Connect provider (node
oidc-provider, its own login and consent pages), over HTTP against `hub serve`.

The provider's accounts carry the provider's role names and a grid; the hub maps them exactly
as it maps that issuer's bearer tokens and issues the person a token of its own, subject
`citysso:<sub>`. Every way the flow can fail is a clear page, recorded in the audit trail.
The ID token checks are exercised with real ID tokens of the same provider.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey
from joserfc.jwt import encode as encode_jwt
from sqlalchemy import select, text

from hub.auth.issuers import TrustedIssuer
from hub.auth.oidc_signin import OutsideProviders, SignInRefused
from hub.auth.tokens.jwks import RemoteKeySet
from hub.storage.models import StaffUser
from hub.storage.session import create_engine
from tests.e2e.conftest import (
    LiveHub,
    district_code,
    e2e_database,
    free_port,
    run_hub,
    seed_database,
)
from tests.e2e.outside_provider import (
    CONSOLE_CLIENT,
    LABEL,
    NAME,
    add_clients,
    city_issuer_toml,
    new_key,
    provider_process,
)

pytestmark = pytest.mark.e2e

RP_CLIENT = "rp-test"  # a client for the ID-token tests, redirecting nowhere served
RP_REDIRECT = "http://127.0.0.1:9/cb"
ME = "{ me { clientId roles grid { code } } }"


@dataclass
class World:
    database_url: str
    directory: Path
    district: str
    street: str
    building: str


@dataclass
class Provider:
    url: str
    secret: str
    keys: list[dict[str, Any]]


@dataclass
class Hub:
    live: LiveHub
    world: World
    provider: Provider

    @property
    def url(self) -> str:
        return self.live.url


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("outside_signin")
    with e2e_database(directory) as database_url:
        seed_database(database_url, directory / "var")
        district = district_code(database_url)
        building = asyncio.run(_a_building(database_url))
        yield World(database_url, directory, district, building[:9], building)


async def _a_building(database_url: str) -> str:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = text(
                "SELECT g.code FROM grids g WHERE EXISTS "
                "(SELECT 1 FROM residents r WHERE r.grid_code = g.code) ORDER BY g.code"
            )
            code = (await connection.execute(query)).scalar()
    finally:
        await engine.dispose()
    assert code is not None
    return str(code)


def accounts(world: World) -> dict[str, Any]:
    return {
        "alice": {"roles": ["窗口人员"], "grid": world.street},  # a clerk
        "carol": {"roles": ["窗口人员"], "grid": world.street},  # a clerk disabled at the hub
        "bob": {"roles": ["网格员"], "grid": world.building},  # a grid worker
        "mallory": {"roles": ["admin", "访客"]},  # nothing this issuer may grant
        "gridless": {"roles": ["网格员"]},  # a grid-scoped role without a grid
    }


@pytest.fixture(scope="module")
def provider(world: World) -> Iterator[Provider]:
    secret = "console-secret-" + str(time.time_ns())
    keys = [new_key()]
    rp = {
        "client_id": RP_CLIENT,
        "client_secret": secret,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "redirect_uris": [RP_REDIRECT],
    }
    config = {"clients": [rp], "keys": keys, "accounts": accounts(world)}
    with provider_process(world.directory / "provider", config) as (url, _):
        yield Provider(url, secret, keys)


def issuers_toml(provider: Provider, secret_file: Path, dead_issuer: str) -> str:
    return (
        city_issuer_toml(provider.url, secret_file)
        + f"""
[[issuers]]
issuer = "{dead_issuer}"
jwks_uri = "{dead_issuer}/jwks"
audience = "urn:gridhub"
allowed_roles = ["grid_worker"]
name = "down"
display_name = "A provider that is down"
console_client_id = "{CONSOLE_CLIENT}"
"""
    )


@pytest.fixture(scope="module")
def hub(world: World, provider: Provider) -> Iterator[Hub]:
    secret_file = world.directory / "console-secret"
    secret_file.write_text(provider.secret + "\n", encoding="utf-8")
    config = world.directory / "issuers.toml"
    dead = f"http://127.0.0.1:{free_port()}"
    config.write_text(issuers_toml(provider, secret_file, dead), encoding="utf-8")
    with run_hub(
        world.database_url,
        world.directory,
        district=world.district,
        HUB_TRUSTED_ISSUERS_FILE=str(config),
        HUB_REVOCATION_REFRESH_SECONDS="0.5",
    ) as live:
        add_clients(
            provider.url,
            {
                "client_id": CONSOLE_CLIENT,
                "client_secret": provider.secret,
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "redirect_uris": [f"{live.url}/login/outside/{NAME}/callback"],
            },
        )
        yield Hub(live, world, provider)


# --- the provider's own pages, driven over HTTP ------------------------------------------------


def _provider_form(response: httpx.Response, login: str) -> tuple[str, dict[str, str]]:
    """The provider's login or consent form: where it posts and what to fill in."""
    html = response.text
    action = re.search(r'<form[^>]*action="([^"]+)"', html)
    assert action is not None, html[:2000]
    target = urljoin(str(response.url), action.group(1))
    if 'name="login"' in html:
        return target, {"prompt": "login", "login": login, "password": "any password"}
    assert 'value="consent"' in html, html[:2000]
    return target, {"prompt": "consent"}


def through_provider(
    client: httpx.Client, url: str, login: str, *, stop_at: str | None = None
) -> httpx.Response:
    """Follow the flow from `url`, signing in at the provider as `login` and consenting;
    stop at a redirect to `stop_at` (returned, not followed) or at a page of the hub."""
    response = client.get(url)
    for _ in range(20):
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if stop_at is not None and location.startswith(stop_at):
                return response
            response = client.get(location)
            continue
        if "/interaction/" not in str(response.url):
            return response
        target, form = _provider_form(response, login)
        response = client.post(target, data=form)
    raise AssertionError(f"the flow did not end: {response.url}")


def signed_in_client(hub: Hub, login: str) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(timeout=20)
    page = through_provider(client, f"{hub.url}/login/outside/{NAME}", login)
    return client, page


async def _audit_rows(database_url: str, reason: str) -> list[Any]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = text(
                "SELECT subject, outcome, error_codes, issuer, operation_name FROM audit_events"
                " WHERE endpoint = 'console/signin' AND operation_name = :reason"
            )
            return list((await connection.execute(query, {"reason": reason})).all())
    finally:
        await engine.dispose()


def audited(hub: Hub, reason: str) -> list[Any]:
    """The refusals recorded for `reason` (the audit writer batches: wait a little)."""
    deadline = time.monotonic() + 10
    while True:
        rows = asyncio.run(_audit_rows(hub.world.database_url, reason))
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


async def _staff(database_url: str, name: str) -> StaffUser | None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(select(StaffUser).where(StaffUser.name == name))
            ).first()
            return row if row is None else StaffUser(**row._mapping)
    finally:
        await engine.dispose()


# --- signing in ---------------------------------------------------------------------------------


def test_the_sign_in_page_offers_each_outside_provider(hub: Hub) -> None:
    page = httpx.get(f"{hub.url}/login", timeout=10)

    assert page.status_code == 200
    assert f'href="/login/outside/{NAME}"' in page.text
    assert LABEL in page.text
    assert 'href="/login/outside/down"' in page.text


def test_a_clerk_signs_in_at_the_provider_and_works_under_issuer_and_sub(hub: Hub) -> None:
    client, page = signed_in_client(hub, "alice")
    with contextlib.closing(client):
        assert page.status_code == 200
        assert urlsplit(str(page.url)).path == "/console/counter"
        assert page.headers["content-type"].startswith("text/html")
        token = client.get(f"{hub.url}/console/token").json()
        answer = hub.live.graphql(
            ME,
            headers={
                "Authorization": f"Bearer {token['access_token']}",
                "X-Request-Purpose": "e2e: outside sign-in",
            },
        )

    assert token["subject"] == f"{NAME}:alice"
    assert answer["data"]["me"] == {
        "clientId": CONSOLE_CLIENT,
        "roles": ["service_center_clerk"],
        "grid": {"code": hub.world.street},
    }
    person = asyncio.run(_staff(hub.world.database_url, f"{NAME}:alice"))
    assert person is not None
    assert (person.issuer, person.role, person.grid_code) == (
        hub.provider.url,
        "service_center_clerk",
        hub.world.street,
    )


def test_the_session_cookie_is_strict_and_the_flow_cookie_lax(hub: Hub) -> None:
    with httpx.Client(timeout=20) as client:
        start = client.get(f"{hub.url}/login/outside/{NAME}")
        flow_cookie = start.headers["set-cookie"]
        callback = through_provider(client, start.headers["location"], "bob", stop_at=hub.url)
        landing = client.get(callback.headers["location"])

    assert start.status_code == 303
    assert start.headers["location"].startswith(hub.provider.url)
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["nonce"][0]
    assert query["state"][0]
    assert query["scope"] == ["openid roles"]
    assert "hub_outside=" in flow_cookie
    assert "samesite=lax" in flow_cookie.lower()
    assert "httponly" in flow_cookie.lower()
    assert f"path=/login/outside/{NAME}/callback" in flow_cookie.lower()
    console_cookie = landing.headers["set-cookie"]
    assert "hub_console=" in console_cookie
    assert "samesite=strict" in console_cookie.lower()
    assert landing.headers["location"] == "/console"


def test_sign_out_revokes_the_outside_persons_token(hub: Hub) -> None:
    client, _ = signed_in_client(hub, "bob")
    with contextlib.closing(client):
        token = client.get(f"{hub.url}/console/token").json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Request-Purpose": "e2e: outside"}
        before = hub.live.post(ME, headers=headers)
        form = client.get(f"{hub.url}/logout").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        signed_out = client.post(
            f"{hub.url}/logout", data={"csrf_token": csrf.group(1)}, headers={"Origin": hub.url}
        )
        time.sleep(1.0)  # the revocation list refreshes every 0.5 s
        after = hub.live.post(ME, headers=headers)
        console = client.get(f"{hub.url}/console/grid")

    assert before.status_code == 200
    assert before.json()["data"]["me"]["roles"] == ["grid_worker"]
    assert signed_out.status_code == 200
    assert after.status_code == 401
    assert console.status_code == 303  # back to sign-in


def test_an_outside_person_cannot_sign_in_with_a_password_here(hub: Hub) -> None:
    signed_in_client(hub, "alice")[0].close()
    with httpx.Client(timeout=20) as client:
        form = client.get(f"{hub.url}/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        refused = client.post(
            f"{hub.url}/login",
            data={"csrf_token": csrf.group(1), "username": f"{NAME}:alice", "password": "!outside"},
            headers={"Origin": hub.url},
        )

    assert refused.status_code == 401


# --- refusals: a clear page, never a 500, and a record in the audit trail ----------------------


@pytest.mark.parametrize(
    ("login", "status", "words", "reason", "code"),
    [
        pytest.param("mallory", 403, "grants you no role", "no_role", "FORBIDDEN", id="no-role"),
        pytest.param("gridless", 403, "names no valid grid", "no_grid", "FORBIDDEN", id="no-grid"),
    ],
)
def test_a_person_the_mapping_gives_nothing_is_refused_and_audited(
    hub: Hub, login: str, status: int, words: str, reason: str, code: str
) -> None:
    with httpx.Client(timeout=20, cookies={"hub_lang": "en"}) as client:
        page = through_provider(client, f"{hub.url}/login/outside/{NAME}", login)
        console = client.get(f"{hub.url}/console/counter")

    assert page.status_code == status
    assert words in page.text
    assert console.status_code == 303  # no console session was made
    rows = [row for row in audited(hub, reason) if row.subject == f"{NAME}:{login}"]
    assert rows, f"no audit event for {reason}"
    assert rows[0].outcome == "DENIED"
    assert code in str(rows[0].error_codes)
    assert rows[0].issuer == hub.provider.url


def test_a_refusal_at_the_provider_is_a_clear_page(hub: Hub) -> None:
    with httpx.Client(timeout=20, cookies={"hub_lang": "en"}) as client:
        client.get(f"{hub.url}/login/outside/{NAME}")
        page = client.get(
            f"{hub.url}/login/outside/{NAME}/callback",
            params={"error": "access_denied", "state": "whatever"},
        )

    assert page.status_code == 403
    assert "cancelled or refused at the identity provider" in page.text
    assert audited(hub, "provider_error:access_denied")


def test_a_callback_with_the_wrong_state_is_refused(hub: Hub) -> None:
    with httpx.Client(timeout=20, cookies={"hub_lang": "en"}) as client:
        start = client.get(f"{hub.url}/login/outside/{NAME}")
        callback = through_provider(client, start.headers["location"], "alice", stop_at=hub.url)
        location = callback.headers["location"]
        forged = re.sub(r"state=[^&]+", "state=forged", location)
        page = client.get(forged)
        console = client.get(f"{hub.url}/console/counter")

    assert page.status_code == 400
    assert "sign in again" in page.text
    assert console.status_code == 303
    assert audited(hub, "bad_state")


def test_a_callback_without_the_flow_cookie_is_refused(hub: Hub) -> None:
    with httpx.Client(timeout=20) as client:
        start = client.get(f"{hub.url}/login/outside/{NAME}")
        callback = through_provider(client, start.headers["location"], "alice", stop_at=hub.url)
    # another browser (no hub_outside cookie) brings the code back
    page = httpx.get(callback.headers["location"], timeout=10)

    assert page.status_code == 400
    assert "hub_console" not in page.headers.get("set-cookie", "")


def test_an_unknown_provider_and_a_provider_that_is_down_get_clear_pages(hub: Hub) -> None:
    english = {"hub_lang": "en"}
    unknown = httpx.get(f"{hub.url}/login/outside/nobody", cookies=english, timeout=10)
    down = httpx.get(f"{hub.url}/login/outside/down", cookies=english, timeout=10)
    unknown_callback = httpx.get(
        f"{hub.url}/login/outside/nobody/callback?code=x&state=y", cookies=english, timeout=10
    )

    assert unknown.status_code == 404
    assert "No such identity provider" in unknown.text
    assert unknown_callback.status_code == 404
    assert down.status_code == 502
    assert "cannot be reached" in down.text
    assert audited(hub, "unknown_issuer")
    assert audited(hub, "provider_unreachable")


# --- the ID token, with real ID tokens of the provider ---------------------------------------


def rp_issuer(provider: Provider, **change: Any) -> TrustedIssuer:
    return TrustedIssuer.model_validate(
        {
            "issuer": provider.url,
            "jwks_uri": f"{provider.url}/jwks",
            "audience": "urn:gridhub",
            "algorithms": ["RS256"],
            "allowed_roles": ["service_center_clerk"],
            "name": "rp",
            "console_client_id": RP_CLIENT,
            "console_client_secret_env": "UNUSED",
            "console_scopes": ["openid", "roles"],
            **change,
        }
    )


@pytest.fixture
def rp(provider: Provider, monkeypatch: pytest.MonkeyPatch) -> OutsideProviders:
    monkeypatch.setenv("UNUSED", provider.secret)
    trusted = rp_issuer(provider)
    keys = RemoteKeySet(trusted)
    return OutsideProviders((trusted,), lambda _: keys, leeway_seconds=30)


def id_token(provider: Provider, rp: OutsideProviders, *, nonce: str, login: str = "alice") -> str:
    """A real ID token: the code flow at the provider, the code exchanged by the hub's code."""
    trusted = rp.named("rp")

    async def run() -> str:
        endpoints = await rp.endpoints(trusted)
        url = rp.authorization_url(
            trusted,
            endpoints,
            redirect_uri=RP_REDIRECT,
            state="s",
            nonce=nonce,
            code_challenge=CHALLENGE,
        )
        with httpx.Client(timeout=20) as client:
            redirect = await asyncio.to_thread(
                through_provider, client, url, login, stop_at=RP_REDIRECT
            )
        code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
        return await rp.exchange(
            trusted, code=code, redirect_uri=RP_REDIRECT, code_verifier=VERIFIER
        )

    return asyncio.run(run())


VERIFIER = "a-verifier-of-enough-length-for-rfc-7636-section-4-1-xxxxxxxx"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode()[:-1]


def verify(rp: OutsideProviders, token: str, **options: Any) -> dict[str, Any]:
    trusted = options.pop("trusted", rp.named("rp"))
    return asyncio.run(rp.verify_id_token(trusted, token, **options))


def refusal(rp: OutsideProviders, token: str, **options: Any) -> str:
    with pytest.raises(SignInRefused) as refused:
        verify(rp, token, **options)
    return refused.value.reason


def test_a_real_id_token_with_the_right_nonce_is_accepted(
    provider: Provider, rp: OutsideProviders
) -> None:
    claims = verify(rp, id_token(provider, rp, nonce="n-1"), nonce="n-1")

    assert claims["sub"] == "alice"
    assert claims["aud"] == RP_CLIENT
    assert claims["roles"] == ["窗口人员"]


def test_id_tokens_with_a_wrong_nonce_audience_or_expiry_are_refused(
    provider: Provider, rp: OutsideProviders
) -> None:
    token = id_token(provider, rp, nonce="n-2")
    other_client = rp_issuer(provider, console_client_id="another-client")
    other_issuer = rp_issuer(provider, issuer=provider.url + "/elsewhere")

    assert refusal(rp, token, nonce="n-other") == "nonce_mismatch"
    assert refusal(rp, token, nonce="n-2", trusted=other_client) == "id_token_audience"
    assert refusal(rp, token, nonce="n-2", trusted=other_issuer) == "bad_id_token_claims"
    assert refusal(rp, token, nonce="n-2", now=time.time() + 86_400) == "id_token_expired"


def test_an_id_token_with_a_bad_signature_or_an_untrusted_key_is_refused(
    provider: Provider, rp: OutsideProviders
) -> None:
    token = id_token(provider, rp, nonce="n-3")
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    stranger = RSAKey.generate_key(2048, private=True)
    claims = verify(rp, token, nonce="n-3")
    forged = encode_jwt(
        {"alg": "RS256", "kid": provider.keys[0]["kid"]}, claims, stranger, algorithms=["RS256"]
    )
    unsigned = (
        ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in ({"alg": "none", "kid": provider.keys[0]["kid"]}, claims)
        )
        + "."
    )

    assert refusal(rp, f"{header}.{payload}.{flipped}", nonce="n-3") == "bad_id_token_signature"
    assert refusal(rp, forged, nonce="n-3") == "bad_id_token_signature"
    assert refusal(rp, unsigned, nonce="n-3") == "bad_id_token_header"


def test_an_access_token_is_not_taken_for_an_id_token(
    provider: Provider, rp: OutsideProviders
) -> None:
    key = RSAKey.import_key(provider.keys[0])
    claims = verify(rp, id_token(provider, rp, nonce="n-4"), nonce="n-4")
    typed = encode_jwt(
        {"alg": "RS256", "kid": provider.keys[0]["kid"], "typ": "at+jwt"},
        claims,
        key,
        algorithms=["RS256"],
    )

    assert refusal(rp, typed, nonce="n-4") == "bad_id_token_header"


def test_signing_in_again_sends_an_outside_person_back_to_their_provider(hub: Hub) -> None:
    """What the console does when the session's hub token runs out (middleware → signin):
    the provider, not the hub's password page, and back to the same console page."""
    client, _ = signed_in_client(hub, "bob")
    with contextlib.closing(client):
        first = client.get(f"{hub.url}/console/token").json()["access_token"]
        again = client.get(f"{hub.url}/console/signin", params={"next": "/console/grid"})
        page = through_provider(client, urljoin(hub.url, again.headers["location"]), "bob")
        second = client.get(f"{hub.url}/console/token").json()

    assert again.status_code == 303
    assert again.headers["location"] == f"/login/outside/{NAME}?next=%2Fconsole%2Fgrid"
    assert urlsplit(str(page.url)).path == "/console/grid"
    assert second["subject"] == f"{NAME}:bob"
    assert second["access_token"] != first


def test_a_person_disabled_at_the_hub_is_refused_though_the_provider_signs_them_in(
    hub: Hub,
) -> None:
    client, first = signed_in_client(hub, "carol")
    with contextlib.closing(client):
        assert urlsplit(str(first.url)).path == "/console/counter"
        hub.live.hub("users", "disable", f"{NAME}:carol")
        ended = client.get(f"{hub.url}/console/counter")
    with httpx.Client(timeout=20, cookies={"hub_lang": "en"}) as again:
        page = through_provider(again, f"{hub.url}/login/outside/{NAME}", "carol")

    assert ended.status_code == 303  # the session ended with the account
    assert page.status_code == 403
    assert "This account is disabled" in page.text
    rows = audited(hub, "disabled")
    assert any(row.subject == f"{NAME}:carol" for row in rows)
