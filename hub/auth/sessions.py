"""Sign-in sessions of people: created at sign-in, checked on every use, ended at sign-out.

The browser holds a random value in an HTTP-only, SameSite=Strict cookie; the database holds
its SHA-256 (a stolen database copy holds no usable cookie). A session expires when unused
for `idle` or, whatever the use, `absolute` after it began. Two kinds share the table: the
authorization server's "login" session (who signed in at /login) and the console client's
"console" session (which carries that person's access token). Ending a session revokes the
access token it carried (RFC 7009), so a signed-out token is refused at once.

Session first, keyword-only after; flush, never commit (the caller owns the transaction).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.tokens.revocation import revoke
from hub.config import Settings
from hub.storage.base import utcnow
from hub.storage.models import StaffSession, StaffUser

LOGIN = "login"
CONSOLE = "console"
LOGIN_COOKIE = "hub_login"  # the authorization server's: who signed in at /login
CONSOLE_COOKIE = "hub_console"  # the console client's: the session holding the token


@dataclass(frozen=True)
class SessionLifetime:
    """Idle and absolute expiry (settings `session_idle_seconds`, `session_max_seconds`)."""

    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, settings: Settings) -> SessionLifetime:
        return cls(
            idle=timedelta(seconds=settings.session_idle_seconds),
            absolute=timedelta(seconds=settings.session_max_seconds),
        )


def session_id(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode("utf-8")).hexdigest()


async def start_session(
    session: AsyncSession,
    *,
    user: StaffUser,
    kind: str,
    lifetime: SessionLifetime,
    now: datetime | None = None,
) -> tuple[str, StaffSession]:
    """A new session for `user`; returns the cookie value (shown once) and the row."""
    now = now or utcnow()
    cookie_value = secrets.token_urlsafe(32)
    row = StaffSession(
        id=session_id(cookie_value),
        user_id=user.id,
        kind=kind,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime.absolute,
    )
    session.add(row)
    await session.flush()
    return cookie_value, row


async def resume_session(
    session: AsyncSession,
    *,
    cookie_value: str | None,
    kind: str,
    lifetime: SessionLifetime,
    now: datetime | None = None,
) -> tuple[StaffSession, StaffUser] | None:
    """The live session of this cookie and its person, touched; None when there is none,
    it expired (idle or absolute: it is ended here), or the person was disabled."""
    if not cookie_value or len(cookie_value) > 128:
        return None
    now = now or utcnow()
    row = await session.get(StaffSession, session_id(cookie_value))
    if row is None or row.kind != kind or row.ended_at is not None:
        return None
    user = await session.get(StaffUser, row.user_id)
    expired = now >= row.expires_at or now - row.last_seen_at >= lifetime.idle
    if user is None or user.disabled_at is not None or expired:
        await end_session(session, row=row, now=now)
        return None
    row.last_seen_at = now
    await session.flush()
    return row, user


async def end_session(
    session: AsyncSession, *, row: StaffSession, now: datetime | None = None
) -> None:
    """End the session and revoke the access token it carried."""
    if row.ended_at is None:
        row.ended_at = now or utcnow()
    if row.token_jti and row.token_expires_at:
        await revoke(session, jti=row.token_jti, expires_at=row.token_expires_at)
    row.access_token = None
    await session.flush()


async def end_user_sessions(session: AsyncSession, *, user: StaffUser) -> int:
    """End every live session of a person (disabled, password reset); how many ended."""
    rows = await session.scalars(
        select(StaffSession).where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
    )
    ended = 0
    for row in rows.all():
        await end_session(session, row=row)
        ended += 1
    return ended


async def keep_token(
    session: AsyncSession, *, row: StaffSession, token: str, jti: str, expires_at: datetime
) -> None:
    """Store the access token a console session uses; the one it replaces is revoked."""
    if row.token_jti and row.token_expires_at and row.token_jti != jti:
        await revoke(session, jti=row.token_jti, expires_at=row.token_expires_at)
    row.access_token = token
    row.token_jti = jti
    row.token_expires_at = expires_at
    await session.flush()
