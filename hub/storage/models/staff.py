"""Staff accounts (people at the consoles), their sign-in sessions and authorization codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.base import Base, UtcDateTime, utcnow


class StaffUser(Base):
    """A person who signs in: one role, a grid for grid-scoped roles, an argon2id password.

    `failed_logins` counts wrong passwords since the last success; past the limit the account
    is locked until `locked_until`. A disabled account (`disabled_at`) cannot sign in.
    A person of a trusted outside issuer (`issuer` set, name `<issuer name>:<sub>`) signs in
    there only: never with a password here; role and grid are refreshed at each sign-in.
    """

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(64))
    grid_code: Mapped[str | None] = mapped_column(
        ForeignKey("grids.code", ondelete="RESTRICT"), index=True
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    issuer: Mapped[str | None] = mapped_column(String(255))


class StaffSession(Base):
    """A signed-in browser: `kind` "login" (the authorization server's) or "console" (the
    console client's, holding the person's access token). The cookie holds a random value;
    only its SHA-256 is stored here. Idle and absolute expiry are checked on every use."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    access_token: Mapped[str | None] = mapped_column(Text)
    token_jti: Mapped[str | None] = mapped_column(String(255))
    token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuthorizationCode(Base):
    """An authorization code (RFC 6749 §4.1.2) with its PKCE challenge (RFC 7636 §4.4);
    only the code's SHA-256 is stored, it lives ten minutes and is used once."""

    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(1024))
    scope: Mapped[str] = mapped_column(String(1024))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
