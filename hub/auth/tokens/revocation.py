"""Revoked tokens and clients (RFC 7009 §2): recording a revocation, and refusing after one.

Verification asks a `RevocationList` held in memory, so a request costs no database round
trip. The list is reloaded (unexpired revoked jtis, revoked clients, clients blocked per
issuer) when it is older than its refresh interval, so a revocation made by another process —
another worker, `hub clients revoke`, `hub clients block` — is honoured within that interval;
one made in this process (the revocation endpoint, `hub/auth/clients.py`, `hub/auth/blocks.py`)
at once.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from hub.storage.base import utcnow
from hub.storage.models import BlockedClient, OAuthClient, RevokedToken
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
    note_revoked(jti=jti)


class RevocationList:
    """Revoked jtis and clients, reloaded when older than `refresh_seconds` (the staleness
    bound for revocations made elsewhere)."""

    def __init__(self, engine: AsyncEngine, *, refresh_seconds: float) -> None:
        self._engine = engine
        self._refresh_seconds = refresh_seconds
        self._jtis: frozenset[str] = frozenset()
        self._clients: frozenset[str] = frozenset()
        self._blocked: frozenset[tuple[str, str]] = frozenset()
        self._loaded_at: float | None = None
        self._loading = asyncio.Lock()
        _LISTS.add(self)

    async def is_revoked(self, *, jti: str, client_id: str | None = None) -> bool:
        await self._fresh()
        return jti in self._jtis or (client_id is not None and client_id in self._clients)

    async def is_blocked(self, *, issuer: str, client_id: str) -> bool:
        """Whether `hub clients block --issuer ISSUER CLIENT_ID` refuses this client."""
        await self._fresh()
        return (issuer, client_id) in self._blocked

    def note(
        self,
        *,
        jti: str | None = None,
        client_id: str | None = None,
        blocked: tuple[str, str] | None = None,
        unblocked: tuple[str, str] | None = None,
    ) -> None:
        """A revocation (or block) made in this process: effective at once."""
        if jti is not None:
            self._jtis = self._jtis | {jti}
        if client_id is not None:
            self._clients = self._clients | {client_id}
        if blocked is not None:
            self._blocked = self._blocked | {blocked}
        if unblocked is not None:
            self._blocked = self._blocked - {unblocked}

    async def _fresh(self) -> None:
        if self._stale():
            async with self._loading:  # one reload at a time; the others wait for it
                if self._stale():
                    await self._reload()

    def _stale(self) -> bool:
        loaded = self._loaded_at
        return loaded is None or time.monotonic() - loaded >= self._refresh_seconds

    async def _reload(self) -> None:
        started = time.monotonic()
        now = utcnow()
        async with self._engine.connect() as connection:
            jtis = await connection.scalars(
                select(RevokedToken.jti).where(RevokedToken.expires_at >= now)
            )
            clients = await connection.scalars(
                select(OAuthClient.client_id).where(OAuthClient.revoked_at.is_not(None))
            )
            blocked = await connection.execute(
                select(BlockedClient.issuer, BlockedClient.client_id)
            )
            self._jtis, self._clients = frozenset(jtis), frozenset(clients)
            self._blocked = frozenset((issuer, client) for issuer, client in blocked)
        self._loaded_at = started


_LISTS: weakref.WeakSet[RevocationList] = weakref.WeakSet()


def note_revoked(
    *,
    jti: str | None = None,
    client_id: str | None = None,
    blocked: tuple[str, str] | None = None,
    unblocked: tuple[str, str] | None = None,
) -> None:
    """Tell every revocation list of this process about a revocation just recorded."""
    for revocations in list(_LISTS):
        revocations.note(jti=jti, client_id=client_id, blocked=blocked, unblocked=unblocked)
