"""Verified tokens are remembered by their exact text; what can change is checked every time."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from joserfc.jwk import OctKey
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.policy import load_policy
from hub.auth.runtime import AuthRuntime
from hub.auth.tokens import AccessClaims, TokenError, revoke
from hub.auth.tokens.verified import VerifiedTokens
from hub.config import Settings
from tests.conftest import FAST_HASHER


@pytest.fixture
def runtime(settings: Settings, engine: AsyncEngine) -> AuthRuntime:
    strict = settings.model_copy(update={"token_leeway_seconds": 0})
    return AuthRuntime.create(
        strict, engine, load_policy(strict.policy), password_hasher=FAST_HASHER
    )


def issue(runtime: AuthRuntime) -> str:
    token, _ = runtime.issuer.issue(
        client_id="gh_a", subject="gh_a", scopes=["audit:read"], roles=["auditor"], grid=None
    )
    return token


async def test_a_token_verified_once_is_answered_from_memory(runtime: AuthRuntime) -> None:
    token = issue(runtime)

    first = await runtime.verifier.verify(token)
    second = await runtime.verifier.verify(token)

    assert second is first
    assert len(runtime.verifier.verified) == 1


async def test_a_remembered_token_revoked_later_is_refused(
    runtime: AuthRuntime, engine: AsyncEngine
) -> None:
    token = issue(runtime)
    claims = await runtime.verifier.verify(token)

    await revoke(engine, jti=claims.jti, expires_at=claims.expires_at)

    with pytest.raises(TokenError, match="revoked"):
        await runtime.verifier.verify(token)


async def test_a_remembered_token_is_refused_once_it_expires(
    settings: Settings, engine: AsyncEngine
) -> None:
    brief = settings.model_copy(update={"token_leeway_seconds": 0, "token_ttl_seconds": 1})
    runtime = AuthRuntime.create(
        brief, engine, load_policy(brief.policy), password_hasher=FAST_HASHER
    )
    token = issue(runtime)
    await runtime.verifier.verify(token)
    remembered = runtime.verifier.verified.get(token)
    assert remembered is not None

    await asyncio.sleep(max(0.0, remembered.valid_until - time.time()) + 0.05)

    with pytest.raises(TokenError, match="expired"):
        await runtime.verifier.verify(token)
    assert len(runtime.verifier.verified) == 0


async def test_other_bytes_are_verified_afresh(runtime: AuthRuntime) -> None:
    token = issue(runtime)
    await runtime.verifier.verify(token)
    head, payload, signature = token.split(".")
    tampered = ".".join((head, payload, ("A" if signature[0] != "A" else "B") + signature[1:]))

    with pytest.raises(TokenError):
        await runtime.verifier.verify(tampered)


def test_memory_is_bounded_and_drops_the_oldest_first() -> None:
    verified = VerifiedTokens(leeway_seconds=0, max_entries=2)
    later = datetime.now(UTC) + timedelta(minutes=5)
    claims = AccessClaims(
        "iss", "sub", "client", frozenset(), ("auditor",), None, "j", later, later
    )
    key = OctKey.generate_key(256)
    for token in ("a", "b", "c"):
        verified.remember(token, claims, kid="k", key=key)

    assert len(verified) == 2
    assert verified.get("a") is None
    assert verified.get("c") is not None
