"""Staff accounts: add, list, disable, reset a password, and check a password at sign-in.

Every function takes the session first and keyword-only arguments after it; they flush but
never commit: the caller owns the transaction. A person carries a role and (for grid-scoped
roles) a grid exactly like a client (`hub/auth/clients.py`), checked by the same rules.

Sign-in failures are counted per account: after `max_failures` wrong passwords in a row the
account is locked for `lockout` (a correct password does not open it early). An unknown name
costs one argon2 verification too, and every refusal reads the same to the person at the
form, so the form does not tell which names exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.clients import ClientError, _check_grid, _role
from hub.auth.passwords import hash_password, password_matches
from hub.auth.policy import Policy
from hub.storage.base import utcnow
from hub.storage.models import StaffUser

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-@\u4e00-\u9fff]{2,64}$")


class UserError(ValueError):
    """An account change the caller can fix; the message says how."""


class LoginRefusal(StrEnum):
    """Why a sign-in was refused (kept for the log; the person sees one message)."""

    UNKNOWN = "unknown"
    WRONG_PASSWORD = "wrong_password"
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None
    refusal: LoginRefusal | None = None
    locked_until: datetime | None = None


async def add_user(
    session: AsyncSession,
    *,
    name: str,
    role: str,
    password: str,
    policy: Policy,
    hasher: PasswordHasher,
    grid_code: str | None = None,
) -> StaffUser:
    """Create an account; the name must be new, the role known, the grid right for the role."""
    name = name.strip()
    if not NAME_PATTERN.match(name):
        raise UserError("a user name has 2 to 64 letters, digits or . _ - @ (Chinese allowed)")
    try:
        checked = _role(policy, role)
        await _check_grid(session, checked, grid_code)
    except ClientError as error:
        raise UserError(str(error)) from None
    if await _by_name(session, name) is not None:
        raise UserError(f"user {name!r} exists; `hub users reset-password {name}` changes it")
    user = StaffUser(
        name=name,
        role=checked.name,
        grid_code=grid_code,
        password_hash=hash_password(hasher, password),
        failed_logins=0,
    )
    session.add(user)
    await session.flush()
    return user


async def get_user(session: AsyncSession, *, name: str) -> StaffUser:
    user = await _by_name(session, name)
    if user is None:
        raise UserError(f"no user {name!r}; `hub users list` shows them")
    return user


async def list_users(session: AsyncSession) -> list[StaffUser]:
    return list((await session.scalars(select(StaffUser).order_by(StaffUser.name))).all())


async def disable_user(session: AsyncSession, *, name: str) -> StaffUser:
    """No more sign-ins; the caller ends the account's sessions (`sessions.end_user_sessions`)."""
    user = await get_user(session, name=name)
    if user.disabled_at is None:
        user.disabled_at = utcnow()
        await session.flush()
    return user


async def reset_password(
    session: AsyncSession, *, name: str, password: str, hasher: PasswordHasher
) -> StaffUser:
    """Set a new password and unlock the account (it stays disabled if it was)."""
    user = await get_user(session, name=name)
    user.password_hash = hash_password(hasher, password)
    user.password_changed_at = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    await session.flush()
    return user


async def check_login(
    session: AsyncSession,
    *,
    name: str,
    password: str,
    hasher: PasswordHasher,
    max_failures: int,
    lockout: timedelta,
    now: datetime | None = None,
) -> LoginResult:
    """The account when the password is right and the account may sign in; else why not."""
    now = now or utcnow()
    user = await _by_name(session, name.strip()) if len(name) <= 64 else None
    matched = password_matches(hasher, user.password_hash if user else None, password)
    if user is None or user.issuer is not None:  # an outside person signs in at the provider
        return LoginResult(None, LoginRefusal.UNKNOWN)
    if user.disabled_at is not None:
        return LoginResult(None, LoginRefusal.DISABLED)
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, LoginRefusal.LOCKED, user.locked_until)
    if not matched:
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + lockout
            user.failed_logins = 0
        await session.flush()
        return LoginResult(None, LoginRefusal.WRONG_PASSWORD, user.locked_until)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    await session.flush()
    return LoginResult(user)


async def _by_name(session: AsyncSession, name: str) -> StaffUser | None:
    return await session.scalar(select(StaffUser).where(StaffUser.name == name))
