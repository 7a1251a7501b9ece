"""Revocations are held in memory: no round trip per request, elsewhere-made ones within a bound."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.clients import register_client
from hub.auth.policy import load_policy
from hub.auth.runtime import AuthRuntime
from hub.auth.tokens import TokenError
from hub.config import Settings
from hub.storage.models import OAuthClient, RevokedToken
from hub.storage.session import create_sessionmaker
from tests.conftest import FAST_HASHER

REFRESH = 0.3


@pytest.fixture
def runtime(settings: Settings, engine: AsyncEngine) -> AuthRuntime:
    quick = settings.model_copy(update={"revocation_refresh_seconds": REFRESH})
    return AuthRuntime.create(quick, engine, load_policy(quick.policy), password_hasher=FAST_HASHER)


def issue(runtime: AuthRuntime) -> str:
    token, _ = runtime.issuer.issue(
        client_id="gh_a", subject="gh_a", scopes=["audit:read"], roles=["auditor"], grid=None
    )
    return token


async def test_verifying_within_the_refresh_interval_reads_no_database(
    runtime: AuthRuntime, engine: AsyncEngine
) -> None:
    token = issue(runtime)
    await runtime.verifier.verify(token)  # loads the list
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        for _ in range(20):
            await runtime.verifier.verify(token)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)

    assert statements == []


async def test_a_revocation_made_by_another_process_is_honoured_within_the_refresh_interval(
    runtime: AuthRuntime, engine: AsyncEngine
) -> None:
    token = issue(runtime)
    claims = await runtime.verifier.verify(token)
    # What another worker or `hub clients revoke` does: a row, and no word to this process.
    async with engine.begin() as connection:
        await connection.execute(
            insert(RevokedToken).values(jti=claims.jti, expires_at=claims.expires_at)
        )

    still = await runtime.verifier.verify(token)  # within the bound, the old list stands
    await asyncio.sleep(REFRESH * 1.5)

    assert still.jti == claims.jti
    with pytest.raises(TokenError, match="revoked"):
        await runtime.verifier.verify(token)


async def test_a_client_revoked_elsewhere_loses_its_tokens_within_the_refresh_interval(
    runtime: AuthRuntime, engine: AsyncEngine, settings: Settings
) -> None:

    async with create_sessionmaker(engine)() as session, session.begin():
        client, _ = await register_client(
            session,
            name="elsewhere",
            role="auditor",
            policy=load_policy(settings.policy),
            hasher=FAST_HASHER,
        )
    token, _ = runtime.issuer.issue(
        client_id=client.client_id,
        subject=client.client_id,
        scopes=["audit:read"],
        roles=["auditor"],
        grid=None,
    )
    await runtime.verifier.verify(token)
    async with engine.begin() as connection:
        await connection.execute(
            update(OAuthClient)
            .where(OAuthClient.client_id == client.client_id)
            .values(revoked_at=OAuthClient.created_at)
        )

    await asyncio.sleep(REFRESH * 1.5)

    with pytest.raises(TokenError, match="revoked"):
        await runtime.verifier.verify(token)
