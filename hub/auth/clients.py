"""OAuth client registry: register, authenticate, list, revoke and rotate secrets.

Every function takes the session first and keyword-only arguments after it. The functions
flush but never commit: the caller owns the transaction
(`async with sessionmaker() as session, session.begin(): ...`).

Secrets are random 256-bit strings shown once; only a hash is stored: the keyed
`hmac-sha256$…` of `hub/auth/client_secrets.py` when a `ClientSecretHasher` is passed (the CLI
does), argon2id otherwise (a cheap `PasswordHasher` in tests; such hashes are replaced by the
keyed one at the client's next successful authentication). Verification is constant time,
and an unknown or revoked client still costs one hash verification, so the response time
does not tell which client ids exist.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.client_secrets import ClientSecretHasher
from hub.auth.policy import Policy, PolicyError, Role, RowScope, load_policy
from hub.auth.scopes import ScopeSyntaxError, split_scope
from hub.auth.tokens.revocation import note_revoked
from hub.storage.base import utcnow
from hub.storage.models import Grid, OAuthClient

CLIENT_ID_PREFIX = "gh_"
SECRET_BYTES = 32


class ClientAuthMethod(StrEnum):
    """Token endpoint authentication methods (RFC 7591 §2, RFC 7523 §2.2)."""

    client_secret_basic = "client_secret_basic"
    client_secret_post = "client_secret_post"
    private_key_jwt = "private_key_jwt"


SECRET_METHODS = frozenset(
    {ClientAuthMethod.client_secret_basic, ClientAuthMethod.client_secret_post}
)


class ClientError(ValueError):
    """A registration or lookup the caller can fix; the message says how."""


def default_password_hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's defaults (RFC 9106 second recommended profile)."""
    return PasswordHasher()


@functools.lru_cache(maxsize=8)
def _decoy_hash(hasher: PasswordHasher) -> str:
    """A hash of nothing anybody knows, with the same cost as real ones (timing decoy)."""
    return hasher.hash(secrets.token_urlsafe(SECRET_BYTES))


SecretHasher = PasswordHasher | ClientSecretHasher


def verify_secret(hasher: SecretHasher, secret_hash: str | None, secret: str) -> bool:
    """Constant-time check; a missing hash costs the same and fails."""
    if isinstance(hasher, ClientSecretHasher):
        return hasher.verify(secret_hash, secret)
    try:
        matched = hasher.verify(secret_hash or _decoy_hash(hasher), secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matched and secret_hash is not None


def effective_scopes(client: OAuthClient, policy: Policy) -> frozenset[str]:
    """The scopes a client may be granted: its role's, narrowed by `allowed_scopes`."""
    try:
        role = policy.role(client.role)
    except PolicyError:
        return frozenset()
    if client.allowed_scopes is None:
        return role.scopes
    return role.scopes & frozenset(split_scope(client.allowed_scopes))


async def register_client(
    session: AsyncSession,
    *,
    name: str,
    role: str,
    grid_code: str | None = None,
    scopes: Iterable[str] | None = None,
    auth_method: ClientAuthMethod | str = ClientAuthMethod.client_secret_basic,
    jwks: dict[str, Any] | None = None,
    policy: Policy | None = None,
    hasher: SecretHasher | None = None,
) -> tuple[OAuthClient, str | None]:
    """Register a client; returns it and its plain secret (None for private_key_jwt), once."""
    method = _auth_method(auth_method)
    checked_role = _role(policy or load_policy(), role)
    await _check_grid(session, checked_role, grid_code)
    allowed = _allowed_scopes(checked_role, scopes)
    name = name.strip()
    if not name or len(name) > 128:
        raise ClientError("a client needs a name of 1 to 128 characters")
    secret: str | None = None
    secret_hash: str | None = None
    public_jwks: dict[str, Any] | None = None
    if method in SECRET_METHODS:
        if jwks is not None:
            raise ClientError(f"--jwks is for private_key_jwt clients, not {method.value}")
        secret = new_secret()
        secret_hash = (hasher or default_password_hasher()).hash(secret)
    else:
        public_jwks = public_key_set(jwks)
    now = utcnow()
    client = OAuthClient(
        client_id=CLIENT_ID_PREFIX + secrets.token_urlsafe(16),
        name=name,
        role=checked_role.name,
        grid_code=grid_code,
        allowed_scopes=allowed,
        secret_hash=secret_hash,
        jwks=public_jwks,
        token_endpoint_auth_method=method.value,
        created_at=now,
        secret_rotated_at=now if secret_hash else None,
    )
    session.add(client)
    await session.flush()
    return client, secret


async def authenticate_client_secret(
    session: AsyncSession, *, client_id: str, secret: str, hasher: SecretHasher | None = None
) -> OAuthClient | None:
    """The active secret-based client with this id and secret, else None (same cost either way)."""
    client = await session.get(OAuthClient, client_id)
    stored = client.secret_hash if client is not None and client.revoked_at is None else None
    # Always pay for one verification: an unknown id must cost what a wrong secret costs.
    matched = verify_secret(hasher or default_password_hasher(), stored, secret)
    return client if matched else None


async def get_client(session: AsyncSession, *, client_id: str) -> OAuthClient:
    client = await session.get(OAuthClient, client_id)
    if client is None:
        raise ClientError(f"no client {client_id!r}; `hub clients list` shows them")
    return client


async def list_clients(session: AsyncSession, *, include_revoked: bool = True) -> list[OAuthClient]:
    query = select(OAuthClient).order_by(OAuthClient.created_at, OAuthClient.client_id)
    if not include_revoked:
        query = query.where(OAuthClient.revoked_at.is_(None))
    return list((await session.scalars(query)).all())


async def revoke_client(session: AsyncSession, *, client_id: str) -> OAuthClient:
    """Stop the client for good: no new tokens, and its outstanding tokens are refused."""
    client = await get_client(session, client_id=client_id)
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        await session.flush()
    note_revoked(client_id=client_id)  # this process's verifiers refuse its tokens at once
    return client


async def rotate_secret(
    session: AsyncSession, *, client_id: str, hasher: SecretHasher | None = None
) -> tuple[OAuthClient, str]:
    """Replace a secret-based client's secret; the old one stops working at once."""
    client = await get_client(session, client_id=client_id)
    if client.revoked_at is not None:
        raise ClientError(f"client {client_id!r} is revoked; register a new one")
    if client.token_endpoint_auth_method not in SECRET_METHODS:
        raise ClientError(f"client {client_id!r} authenticates with private_key_jwt, no secret")
    secret = new_secret()
    client.secret_hash = (hasher or default_password_hasher()).hash(secret)
    client.secret_rotated_at = utcnow()
    await session.flush()
    return client, secret


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def public_key_set(jwks: dict[str, Any] | None) -> dict[str, Any]:
    """A client's JWK Set checked for private_key_jwt: public RSA/EC signing keys only."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ClientError("private_key_jwt clients need a JWK Set ({'keys': [...]}) via --jwks")
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise ClientError(f"the JWK Set is not valid: {error}") from None
    keys = []
    for key in key_set:
        if not isinstance(key, RSAKey | ECKey):
            raise ClientError("the JWK Set may hold only RSA and EC keys")
        if key.is_private:
            raise ClientError("the JWK Set holds private key material; register public keys only")
        keys.append(key.as_dict(private=False))
    return {"keys": keys}


def _auth_method(value: ClientAuthMethod | str) -> ClientAuthMethod:
    try:
        return ClientAuthMethod(value)
    except ValueError:
        allowed = ", ".join(method.value for method in ClientAuthMethod)
        raise ClientError(f"unknown auth method {value!r}; use one of {allowed}") from None


def _role(policy: Policy, name: str) -> Role:
    try:
        return policy.role(name)
    except PolicyError as error:
        raise ClientError(str(error)) from None


async def _check_grid(session: AsyncSession, role: Role, grid_code: str | None) -> None:
    """Grid-scoped roles need an existing grid; every other role must not name one."""
    if role.row_scope is RowScope.GRID:
        if not grid_code:
            raise ClientError(f"role {role.name!r} sees one grid's residents: pass --grid CODE")
        if await session.get(Grid, grid_code) is None:
            raise ClientError(f"no grid {grid_code!r}")
    elif grid_code is not None:
        raise ClientError(f"role {role.name!r} is not grid-scoped; drop --grid")


def _allowed_scopes(role: Role, scopes: Iterable[str] | None) -> str | None:
    """None (all of the role's scopes) or a sorted, space-separated non-empty subset."""
    if scopes is None:
        return None
    try:
        requested = frozenset(scope for item in scopes for scope in split_scope(item))
    except ScopeSyntaxError as error:
        raise ClientError(f"--scope: {error}") from None
    if not requested:
        raise ClientError("--scope given without any scope")
    beyond = requested - role.scopes
    if beyond:
        granted = " ".join(sorted(role.scopes))
        raise ClientError(
            f"role {role.name!r} cannot hold {' '.join(sorted(beyond))}; it may hold: {granted}"
        )
    return " ".join(sorted(requested))


async def upgrade_secret_hash(
    session: AsyncSession, *, client_id: str, secret: str, hasher: ClientSecretHasher
) -> None:
    """Replace a client's argon2 hash by the keyed hash of the secret it just proved it has."""
    client = await session.get(OAuthClient, client_id)
    if client is not None and hasher.needs_upgrade(client.secret_hash):
        client.secret_hash = hasher.hash(secret)
        await session.flush()
