"""Revoked-token records (RFC 7009 §2): writing one, and asking whether a token is refused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from hub.storage.base import utcnow
from hub.storage.models import OAuthClient, RevokedToken
from hub.storage.upsert import insert_or_ignore


async def revoke(
    session_or_engine: AsyncSession | AsyncEngine, *, jti: str, expires_at: datetime
) -> None:
    """Refuse the token with this jti until `expires_at` (RFC 7009 §2); idempotent.

    Given an engine, commits on its own; given a session, joins the caller's transaction
    (the caller commits).
    """
    if isinstance(session_or_engine, AsyncEngine):
        async with session_or_engine.begin() as connection:
            await _record_revocation(connection, jti=jti, expires_at=expires_at)
    else:
        connection = await session_or_engine.connection()
        await _record_revocation(connection, jti=jti, expires_at=expires_at)


async def _record_revocation(
    connection: AsyncConnection, *, jti: str, expires_at: datetime
) -> None:
    now = utcnow()
    # Housekeeping: a revoked token past its expiry is refused by `exp` anyway.
    await connection.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    await insert_or_ignore(
        connection, RevokedToken, {"jti": jti, "expires_at": expires_at, "revoked_at": now}
    )


async def is_revoked(engine: AsyncEngine, *, jti: str, client_id: str | None = None) -> bool:
    """Whether the jti is revoked or, when `client_id` is given, that client is (one query)."""
    checks = [exists().where(RevokedToken.jti == jti)]
    if client_id is not None:
        checks.append(
            exists().where(OAuthClient.client_id == client_id, OAuthClient.revoked_at.is_not(None))
        )
    async with engine.connect() as connection:
        row = (await connection.execute(select(*checks))).one()
    return any(row)
