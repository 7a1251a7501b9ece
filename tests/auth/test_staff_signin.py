"""People sign in through the hub's own authorization server: the authorization code grant with
PKCE S256 (`/oauth/authorize` → `/login` → code → `/oauth/token`), lockout after repeated wrong
passwords, and login sessions that end when idle or too old. In process, real endpoints."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth.oauth.codes import CALLBACK_PATH, CONSOLE_CLIENT_ID
from hub.auth.policy import load_policy
from hub.auth.users import add_user
from hub.config import Settings
from hub.storage.base import utcnow
from hub.storage.models import AuthorizationCode, StaffSession, StaffUser
from tests.conftest import DISTRICT, FAST_HASHER, World

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def clerk(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, world: World
) -> str:
    """A service-counter clerk of the district's first street."""
    street = (await world.tree())[DISTRICT + "001"]
    async with sessionmaker() as session, session.begin():
        await add_user(
            session, name="wang.fang", role="service_center_clerk", grid_code=street.code,
            password=PASSWORD, policy=load_policy(settings.policy), hasher=FAST_HASHER,
        )  # fmt: skip
    return "wang.fang"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _authorize_url(settings: Settings, challenge: str, *, method: str = "S256") -> str:
    query = {
        "response_type": "code", "client_id": CONSOLE_CLIENT_ID,
        "redirect_uri": settings.issuer + CALLBACK_PATH, "state": "s-123",
        "code_challenge": challenge, "code_challenge_method": method,
    }  # fmt: skip
    return "/oauth/authorize?" + urlencode(query)


async def _login(
    http: httpx.AsyncClient, name: str, password: str, *, next_: str
) -> httpx.Response:
    page = await http.get("/login", params={"next": next_})
    match = CSRF.search(page.text)
    assert match is not None, page.text
    form = {"username": name, "password": password, "csrf_token": match.group(1), "next": next_}
    return await http.post("/login", data=form)


async def _code(http: httpx.AsyncClient, settings: Settings, name: str) -> tuple[str, str]:
    """Through the real flow: authorize → (login → authorize) → a code; and its verifier."""
    verifier, challenge = _pkce()
    back = await http.get(_authorize_url(settings, challenge))
    if back.status_code == 303:  # not signed in yet: the password first, then back here
        login_location = back.headers["location"]
        assert login_location.startswith("/login?next=")
        next_ = parse_qs(urlsplit(login_location).query)["next"][0]
        signed_in = await _login(http, name, PASSWORD, next_=next_)
        assert signed_in.status_code == 303, signed_in.text
        back = await http.get(signed_in.headers["location"])
    assert back.status_code == 302, back.text
    redirect = urlsplit(back.headers["location"])
    assert (
        f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == settings.issuer + CALLBACK_PATH
    )
    query = parse_qs(redirect.query)
    assert query["state"] == ["s-123"]
    return query["code"][0], verifier


def _exchange(settings: Settings, code: str, verifier: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "client_id": CONSOLE_CLIENT_ID, "redirect_uri": settings.issuer + CALLBACK_PATH,
    }  # fmt: skip


async def test_a_person_gets_a_token_of_their_own_through_the_code_flow_with_pkce(
    http: httpx.AsyncClient, settings: Settings, clerk: str
) -> None:
    code, verifier = await _code(http, settings, clerk)

    response = await http.post("/oauth/token", data=_exchange(settings, code, verifier))

    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body
    claims = _claims(body["access_token"])
    assert claims["sub"] == clerk
    assert claims["client_id"] == CONSOLE_CLIENT_ID
    assert claims["roles"] == ["service_center_clerk"]
    role = load_policy(settings.policy).roles["service_center_clerk"]
    assert set(claims["scope"].split()) == set(role.scopes)


async def test_the_code_buys_nothing_without_the_right_verifier_and_only_once(
    http: httpx.AsyncClient, settings: Settings, clerk: str
) -> None:
    code, verifier = await _code(http, settings, clerk)

    wrong = await http.post("/oauth/token", data=_exchange(settings, code, _pkce()[0]))
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    code, verifier = await _code(http, settings, clerk)
    first = await http.post("/oauth/token", data=_exchange(settings, code, verifier))
    again = await http.post("/oauth/token", data=_exchange(settings, code, verifier))

    assert first.status_code == 200
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


async def test_codes_are_stored_only_as_their_hash(
    http: httpx.AsyncClient, settings: Settings, clerk: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:  # fmt: skip
    code, _ = await _code(http, settings, clerk)

    async with sessionmaker() as session:
        stored = (await session.scalars(select(AuthorizationCode))).all()
    assert len(stored) == 1
    assert code not in repr([row.__dict__ for row in stored])


@pytest.mark.parametrize("method", ["plain", ""])
async def test_authorize_refuses_requests_without_an_s256_challenge(
    http: httpx.AsyncClient, settings: Settings, method: str
) -> None:
    verifier, _ = _pkce()
    url = _authorize_url(settings, verifier, method=method)

    response = await http.get(url)

    assert response.status_code in (302, 400)
    text = response.headers.get("location", "") + response.text
    assert "invalid_request" in text or "code_challenge" in text
    assert "code=" not in response.headers.get("location", "")


async def test_authorize_refuses_a_redirect_uri_elsewhere_without_redirecting(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    _, challenge = _pkce()
    url = _authorize_url(settings, challenge).replace("127.0.0.1%3A8000", "evil.example")

    response = await http.get(url)

    assert response.status_code == 400
    assert "location" not in response.headers


async def test_wrong_passwords_in_a_row_lock_the_account_even_against_the_right_one(
    http: httpx.AsyncClient, settings: Settings, clerk: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:  # fmt: skip
    for _ in range(settings.login_max_failures):
        refused = await _login(http, clerk, "wrong-password-here", next_="")
        assert refused.status_code == 401

    locked = await _login(http, clerk, PASSWORD, next_="")

    assert locked.status_code == 401
    async with sessionmaker() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.name == clerk))
    assert user is not None
    assert user.locked_until is not None
    assert user.locked_until > utcnow() + timedelta(seconds=settings.login_lockout_seconds - 60)


async def test_an_unknown_name_and_a_wrong_password_read_the_same(
    http: httpx.AsyncClient, clerk: str
) -> None:
    unknown = await _login(http, "nobody.here", PASSWORD, next_="")
    wrong = await _login(http, clerk, "wrong-password-here", next_="")

    assert unknown.status_code == wrong.status_code == 401
    assert _error_text(unknown.text) == _error_text(wrong.text)


async def test_a_login_form_without_its_csrf_token_signs_nobody_in(
    http: httpx.AsyncClient, clerk: str
) -> None:
    await http.get("/login")

    response = await http.post(
        "/login", data={"username": clerk, "password": PASSWORD, "csrf_token": "forged"}
    )

    assert response.status_code == 403
    assert "hub_login" not in response.cookies


@pytest.mark.parametrize("too_old", ["idle", "absolute"])
async def test_a_login_session_past_its_idle_or_absolute_limit_asks_for_the_password(
    http: httpx.AsyncClient, settings: Settings, clerk: str,
    sessionmaker: async_sessionmaker[AsyncSession], too_old: str,
) -> None:  # fmt: skip
    await _code(http, settings, clerk)  # signed in: the next authorize needs no password
    _, challenge = _pkce()
    assert (await http.get(_authorize_url(settings, challenge))).status_code == 302
    async with sessionmaker() as session, session.begin():
        past = utcnow() - timedelta(seconds=settings.session_idle_seconds + 1)
        if too_old == "idle":
            values = {"last_seen_at": past}
        else:  # used a moment ago, but begun longer ago than the absolute limit
            begun = utcnow() - timedelta(seconds=settings.session_max_seconds + 1)
            maximum = timedelta(seconds=settings.session_max_seconds)
            values = {"created_at": begun, "expires_at": begun + maximum}
        await session.execute(update(StaffSession).values(**values))

    response = await http.get(_authorize_url(settings, challenge))

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?")


def _error_text(page: str) -> str:
    match = re.search(r'role="alert"[^>]*>([^<]*)<', page)
    return match.group(1) if match else ""


def _claims(token: str) -> dict[str, Any]:
    """The token's payload (its signature is the token tests' business)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims
