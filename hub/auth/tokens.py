"""JWT access tokens: issuing (RFC 9068 profile) and verifying (RFC 9068 §4, RFC 8725).

Issued tokens carry the header `{"typ": "at+jwt", "alg": ..., "kid": ...}` and the claims
iss, aud, sub, client_id, scope, roles, grid (only when set), iat, nbf, exp and jti.

Verification refuses, in this order: tokens over 8 KiB; anything but a compact JWS; headers
that could steer key selection or processing (`crit`, `jwk`, `jku`, `x5u`, `x5c`, `b64`, `cty`,
RFC 8725 §3.10/§2.8); a `typ` other than `at+jwt` (RFC 9068 §4 item 1, RFC 8725 §3.11);
algorithms outside an explicit asymmetric allow-list (never `none` nor HS*, RFC 8725 §3.1);
keys not found by `kid` in the issuer's own key set; bad signatures; a wrong issuer or audience
(RFC 9068 §4 items 3-4); exp/nbf/iat outside the configured leeway; missing claims; revoked
tokens (jti in `revoked_tokens`) and tokens of revoked clients.

Tokens of `settings.trusted_issuers` are verified against that issuer's JWKS, fetched with
httpx and cached. Their roles come from `roles_claim` (a dotted path, list or space-separated
string), the grid from `grid_claim`, scopes from `scope` or `scp`. Deliberate relaxation:
such tokens may be typed `JWT` as well as `at+jwt`, because widespread OpenID providers
(Keycloak, Microsoft Entra ID) type their access tokens `JWT`; the confusion this invites with
ID tokens is closed by requiring the hub's audience and refusing tokens carrying `nonce`.

Roles decide scopes: a token's scopes are cut down to those its known roles grant in the
policy. An external token naming no hub scope at all gets every scope of its roles.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import (
    ClaimError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey, Key, RSAKey
from joserfc.jws import JWSRegistry
from joserfc.jwt import ClaimsOption, JWTClaimsRegistry
from joserfc.jwt import encode as encode_jwt
from joserfc.util import json_b64decode
from sqlalchemy import delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from hub.auth.keys import KeyStore
from hub.auth.policy import KNOWN_SCOPES, Policy, RowScope
from hub.config import Settings, TrustedIssuer
from hub.storage.base import Base, utcnow
from hub.storage.models import OAuthClient, RevokedToken

log = logging.getLogger(__name__)

MAX_TOKEN_BYTES = 8 * 1024
ACCESS_TOKEN_TYPE = "at+jwt"
# RFC 9068 §4: "at+jwt" or "application/at+jwt", compared case-insensitively.
_ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_EXTERNAL_TOKEN_TYPES = _ACCESS_TOKEN_TYPES | {"jwt", "application/jwt"}
LOCAL_ALGORITHMS = frozenset({"RS256", "ES256"})
# Asymmetric algorithms an external issuer may be configured with; never "none" nor HS*.
_SAFE_EXTERNAL_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
# Header parameters that could make a verifier fetch, trust or reinterpret something the
# token itself chose (RFC 8725 §3.10 for jku/x5u/jwk/x5c; RFC 7515 §4.1.11 crit; RFC 7797 b64).
_FORBIDDEN_HEADERS = frozenset({"crit", "jwk", "jku", "x5u", "x5c", "b64", "cty", "enc", "zip"})
# RFC 9068 §2.2: required claims of a JWT access token.
_LOCAL_REQUIRED_CLAIMS = ("sub", "client_id", "iat", "jti")
_EXTERNAL_REQUIRED_CLAIMS = ("sub",)


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says about its caller."""

    issuer: str
    subject: str
    client_id: str
    scopes: frozenset[str]
    roles: tuple[str, ...]
    grid: str | None
    jti: str
    issued_at: datetime
    expires_at: datetime


class TokenError(Exception):
    """A token that must not be accepted; `description` is safe to send to the caller."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


# --- issuing ---------------------------------------------------------------------------------


class TokenIssuer:
    """Signs access tokens with the key store's current signer."""

    def __init__(self, settings: Settings, keystore: KeyStore) -> None:
        self._settings = settings
        self._keystore = keystore

    def issue(
        self,
        *,
        client_id: str,
        subject: str,
        scopes: Iterable[str],
        roles: Sequence[str],
        grid: str | None,
    ) -> tuple[str, int]:
        """A signed JWT access token (RFC 9068 §2) and its lifetime in seconds."""
        key = self._keystore.signing_key()
        ttl = self._settings.token_ttl_seconds
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._settings.issuer,
            "aud": self._settings.audience,
            "sub": subject,
            "client_id": client_id,
            "scope": " ".join(sorted(set(scopes))),
            "roles": list(roles),
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(24),
        }
        if grid is not None:
            claims["grid"] = grid
        header = {"typ": ACCESS_TOKEN_TYPE, "alg": key.algorithm, "kid": key.kid}
        return encode_jwt(header, claims, key.key, algorithms=[key.algorithm]), ttl


# --- verifying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    """A token split into its parts; nothing here is trusted before the signature is checked."""

    header: dict[str, Any]
    claims: dict[str, Any]


class TokenVerifier:
    """Verifies access tokens of this hub and of the trusted external issuers."""

    def __init__(
        self,
        settings: Settings,
        keystore: KeyStore,
        policy: Policy,
        engine: AsyncEngine,
        *,
        jwks_timeout_seconds: float = 5.0,
    ) -> None:
        self._settings = settings
        self._keystore = keystore
        self._policy = policy
        self._engine = engine
        self._remote = {
            trusted.issuer: RemoteKeySet(trusted, timeout_seconds=jwks_timeout_seconds)
            for trusted in settings.trusted_issuers
        }

    async def verify(self, token: str) -> AccessClaims:
        """The claims of a valid token; `TokenError` for anything else."""
        parsed = _parse(token)
        issuer = parsed.claims.get("iss")
        local = issuer == self._settings.issuer
        remote = None if local or not isinstance(issuer, str) else self._remote.get(issuer)
        if not local and remote is None:
            raise TokenError("token issuer is not trusted")
        algorithm, kid = _check_header(parsed.header, local=local, remote=remote)
        key = await self._key(kid, remote)
        claims = _verify_signature(token, key, algorithm)
        if remote is None:
            access = self._local_claims(claims)
        else:
            access = self._external_claims(claims, remote.trusted, token)
        await self._check_not_revoked(access, local=local)
        return access

    async def _key(self, kid: str, remote: RemoteKeySet | None) -> Key:
        if remote is None:
            signing_key = self._keystore.verification_key(kid)
            key = signing_key.key if signing_key is not None else None
        else:
            key = await remote.key(kid)
        if key is None:
            raise TokenError("token signed with an unknown key")
        return key

    def _local_claims(self, claims: dict[str, Any]) -> AccessClaims:
        settings = self._settings
        _check_claims(
            claims,
            issuer=settings.issuer,
            audience=settings.audience,
            leeway=settings.token_leeway_seconds,
            required=_LOCAL_REQUIRED_CLAIMS,
        )
        roles = _string_list(claims.get("roles", []))
        grid = _optional_string(claims.get("grid"))
        scopes = frozenset(_string_list(claims.get("scope", "")))
        return AccessClaims(
            issuer=settings.issuer,
            subject=_string(claims["sub"]),
            client_id=_string(claims["client_id"]),
            scopes=self._authorized_scopes(roles, grid, scopes, external=False),
            roles=tuple(roles),
            grid=grid,
            jti=_string(claims["jti"]),
            issued_at=_timestamp(claims["iat"]),
            expires_at=_timestamp(claims["exp"]),
        )

    def _external_claims(
        self, claims: dict[str, Any], trusted: TrustedIssuer, token: str
    ) -> AccessClaims:
        _check_claims(
            claims,
            issuer=trusted.issuer,
            audience=trusted.audience,
            leeway=self._settings.token_leeway_seconds,
            required=_EXTERNAL_REQUIRED_CLAIMS,
        )
        if "nonce" in claims:  # an OpenID Connect ID token, not an access token
            raise TokenError("token is not an access token")
        roles = _string_list(_claim_at(claims, trusted.roles_claim))
        grid_value = _claim_at(claims, trusted.grid_claim)
        usable_grid = isinstance(grid_value, int | str) and not isinstance(grid_value, bool)
        grid = str(grid_value) if usable_grid and grid_value != "" else None
        raw_scopes = claims.get("scope", claims.get("scp", ""))
        scopes = frozenset(_string_list(raw_scopes))
        known_roles = [role for role in roles if role in self._policy.roles]
        subject = _string(claims["sub"])
        client_id = claims.get("client_id", claims.get("azp", subject))
        jti = claims.get("jti") or "sha256:" + hashlib.sha256(token.encode()).hexdigest()
        issued = claims.get("iat", time.time())
        return AccessClaims(
            issuer=trusted.issuer,
            subject=subject,
            client_id=_string(client_id),
            scopes=self._authorized_scopes(known_roles, grid, scopes, external=True),
            roles=tuple(known_roles),
            grid=grid,
            jti=_string(jti),
            issued_at=_timestamp(issued),
            expires_at=_timestamp(claims["exp"]),
        )

    def _authorized_scopes(
        self, roles: Sequence[str], grid: str | None, scopes: frozenset[str], *, external: bool
    ) -> frozenset[str]:
        """The token's scopes cut down to what its roles may hold under the policy."""
        known = [self._policy.roles[name] for name in roles if name in self._policy.roles]
        if not known:
            raise TokenError("token carries no role known to this hub")
        if grid is None and any(role.row_scope is RowScope.GRID for role in known):
            raise TokenError("token carries a grid-scoped role but no grid")
        granted = frozenset().union(*(role.scopes for role in known))
        if external and not scopes & KNOWN_SCOPES:
            return granted
        return scopes & granted

    async def _check_not_revoked(self, access: AccessClaims, *, local: bool) -> None:
        """RFC 7009 §2: a revoked token, or any token of a revoked client, is refused."""
        checks = [exists().where(RevokedToken.jti == access.jti)]
        if local:
            checks.append(
                exists().where(
                    OAuthClient.client_id == access.client_id, OAuthClient.revoked_at.is_not(None)
                )
            )
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(*checks))).one()
        if any(row):
            raise TokenError("token has been revoked")


def _parse(token: str) -> _Parsed:
    """Split a compact JWS (RFC 7515 §7.1) without trusting any of it."""
    if not isinstance(token, str) or not token:
        raise TokenError("malformed token")
    if len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
        raise TokenError("token too large")
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise TokenError("malformed token")
    try:
        header = json_b64decode(parts[0].encode("ascii"))
        claims = json_b64decode(parts[1].encode("ascii"))
    except (ValueError, TypeError, UnicodeError):
        raise TokenError("malformed token") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError("malformed token")
    return _Parsed(header=header, claims=claims)


def _check_header(
    header: Mapping[str, Any], *, local: bool, remote: RemoteKeySet | None
) -> tuple[str, str]:
    """Type, algorithm and key id of an acceptable header (RFC 9068 §4, RFC 8725 §3)."""
    if _FORBIDDEN_HEADERS & header.keys():
        raise TokenError("token header is not accepted")
    typ = header.get("typ")
    allowed_types = _ACCESS_TOKEN_TYPES if local else _EXTERNAL_TOKEN_TYPES
    if not isinstance(typ, str) or typ.lower() not in allowed_types:
        raise TokenError("token type must be at+jwt")
    algorithm = header.get("alg")
    allowed = (
        LOCAL_ALGORITHMS
        if remote is None
        else _SAFE_EXTERNAL_ALGORITHMS & set(remote.trusted.algorithms)
    )
    if not isinstance(algorithm, str) or algorithm not in allowed:
        raise TokenError("token signing algorithm is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("token signed with an unknown key")
    return algorithm, kid


def _verify_signature(token: str, key: Key, algorithm: str) -> dict[str, Any]:
    """Check the signature with exactly this key and algorithm; return the signed claims."""
    if not isinstance(key, RSAKey | ECKey) or (key.alg and key.alg != algorithm):
        raise TokenError("token signed with an unknown key")
    registry = JWSRegistry(algorithms=[algorithm])
    try:
        signed = jws.deserialize_compact(token, key, algorithms=[algorithm], registry=registry)
        claims = json.loads(signed.payload)
    except (JoseError, ValueError, TypeError):
        raise TokenError("token signature is invalid") from None
    if not isinstance(claims, dict):
        raise TokenError("malformed token")
    return claims


def _check_claims(
    claims: dict[str, Any],
    *,
    issuer: str,
    audience: str,
    leeway: int,
    required: Sequence[str],
) -> None:
    """iss, aud, exp, nbf and iat (RFC 7519 §4.1, RFC 9068 §4 items 3-8)."""
    options: dict[str, ClaimsOption] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": audience},
        "exp": {"essential": True},
    }
    options.update({name: {"essential": True} for name in required})
    registry = JWTClaimsRegistry(leeway=leeway)
    registry.options = options
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise TokenError("token has expired") from None
    except MissingClaimError:
        raise TokenError("token lacks required claims") from None
    except InvalidClaimError as error:
        raise TokenError(_CLAIM_ERRORS.get(error.claim, "token claims are invalid")) from None
    except ClaimError:
        raise TokenError("token claims are invalid") from None


_CLAIM_ERRORS = {
    "nbf": "token is not valid yet",
    "iat": "token was issued in the future",
    "aud": "token is not intended for this audience",
    "iss": "token issuer is not trusted",
}


def _claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by dotted path into nested objects (`realm_access.roles`)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TokenError("token claims are invalid")
    return value


def _optional_string(value: Any) -> str | None:
    return None if value is None else _string(value)


def _string_list(value: Any) -> list[str]:
    """A list of strings, or a space-separated string (OAuth `scope` style)."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise TokenError("token claims are invalid")


def _timestamp(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError("token claims are invalid")
    return datetime.fromtimestamp(value, UTC)


# --- external issuers ------------------------------------------------------------------------


class RemoteKeySet:
    """A trusted issuer's JWKS, fetched over HTTP and cached.

    Refetched when asked for an unknown kid (at most every `REFRESH_SECONDS`) and when older
    than `MAX_AGE_SECONDS`; when a refetch fails the cached keys stay in use.
    """

    REFRESH_SECONDS = 30.0
    MAX_AGE_SECONDS = 3600.0
    MAX_DOCUMENT_BYTES = 512 * 1024

    def __init__(self, trusted: TrustedIssuer, *, timeout_seconds: float = 5.0) -> None:
        self.trusted = trusted
        self._timeout = timeout_seconds
        self._keys: dict[str, Key] = {}
        self._fetched_at = float("-inf")  # monotonic time of the last successful fetch
        self._attempted_at = float("-inf")  # monotonic time of the last attempt

    async def key(self, kid: str) -> Key | None:
        now = time.monotonic()
        # Setting `_attempted_at` before the first await makes concurrent callers skip the fetch.
        due = now - self._attempted_at >= self.REFRESH_SECONDS
        if due and (kid not in self._keys or now - self._fetched_at >= self.MAX_AGE_SECONDS):
            await self._refresh(now)
        return self._keys.get(kid)

    async def _refresh(self, now: float) -> None:
        self._attempted_at = now
        try:
            document = await self._fetch()
            keys = _import_public_keys(document)
        except (httpx.HTTPError, ValueError) as error:
            log.warning("cannot fetch JWKS of %s: %s", self.trusted.issuer, error)
            return
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _fetch(self) -> Any:
        async with (
            httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client,
            client.stream(
                "GET", self.trusted.jwks_uri, headers={"Accept": "application/json"}
            ) as response,
        ):
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.MAX_DOCUMENT_BYTES:
                    raise ValueError("JWKS document too large")
        return json.loads(bytes(body))


_KEY_CLASSES: dict[str, type[RSAKey] | type[ECKey]] = {"RSA": RSAKey, "EC": ECKey}


def _import_public_keys(document: Any) -> dict[str, Key]:
    """Public RSA and EC signing keys with a kid; anything else in the set is ignored."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK Set")
    keys: dict[str, Key] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        key_class = _KEY_CLASSES.get(str(entry.get("kty")))
        if not isinstance(kid, str) or key_class is None:
            continue
        try:
            imported = key_class.import_key(entry)
            public = key_class.import_key(imported.as_dict(private=False))
        except (JoseError, ValueError, TypeError):
            continue
        keys[kid] = public
    return keys


# --- revocation ------------------------------------------------------------------------------


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


async def insert_or_ignore(
    connection: AsyncConnection, model: type[Base], values: dict[str, Any]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL; True when a row was added."""
    table = model.__table__
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    primary_key = next(iter(table.primary_key.columns))  # type: ignore[attr-defined]
    statement = (
        dialect.insert(table).values(**values).on_conflict_do_nothing().returning(primary_key)
    )
    result = await connection.execute(statement)
    return result.first() is not None
