"""OAuth 2.0: registered clients, revoked tokens, used client assertions, blocked clients."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.base import Base, UtcDateTime, utcnow

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")


class OAuthClient(Base):
    """A registered machine client (RFC 6749 §2): one role, a grid for grid-scoped roles.

    `allowed_scopes` (space-separated) narrows the role's scopes; NULL grants all of them.
    `secret_hash` (argon2id) serves client_secret_basic/post; `jwks` holds the public keys
    of a private_key_jwt client (RFC 7523 §2.2).
    """

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(64))
    grid_code: Mapped[str | None] = mapped_column(
        ForeignKey("grids.code", ondelete="RESTRICT"), index=True
    )
    allowed_scopes: Mapped[str | None] = mapped_column(String(1024))
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    jwks: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        CheckConstraint(
            "token_endpoint_auth_method IN "
            "('client_secret_basic', 'client_secret_post', 'private_key_jwt')",
            name="token_endpoint_auth_method",
        ),
        CheckConstraint(
            "(token_endpoint_auth_method = 'private_key_jwt' AND jwks IS NOT NULL)"
            " OR (token_endpoint_auth_method <> 'private_key_jwt' AND secret_hash IS NOT NULL)",
            name="credentials_present",
        ),
    )


class RevokedToken(Base):
    """An access token revoked before its expiry (RFC 7009); kept until `expires_at`."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    revoked_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class UsedClientAssertion(Base):
    """A private_key_jwt assertion already used, refused on replay (RFC 7523 §3, item 7)."""

    __tablename__ = "used_client_assertions"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class BlockedClient(Base):
    """A client whose tokens are refused, named by its issuer (`hub clients block`): outside
    issuers' clients cannot be revoked at the hub, and their ids may collide with ours."""

    __tablename__ = "blocked_clients"

    issuer: Mapped[str] = mapped_column(String(255), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(255))
    blocked_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
