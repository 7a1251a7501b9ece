"""Verifying access tokens of this hub and of trusted issuers (RFC 9068 §4, RFC 8725).

Verification refuses, in this order: tokens over 8 KiB; anything but a compact JWS; headers
that could steer key selection or processing (`crit`, `jwk`, `jku`, `x5u`, `x5c`, `b64`, `cty`,
RFC 8725 §3.10/§2.8); a `typ` other than `at+jwt` (RFC 9068 §4 item 1, RFC 8725 §3.11);
algorithms outside an explicit asymmetric allow-list (never `none` nor HS*, RFC 8725 §3.1);
keys not found by `kid` in the issuer's own key set; bad signatures; a wrong issuer or audience
(RFC 9068 §4 items 3-4); exp/nbf/iat outside the configured leeway; missing claims; revoked
tokens (jti in `revoked_tokens`) and tokens of revoked clients. The first three and the
signature are `jws.py`'s work; the claims are checked here. A local token verified once is
remembered by its exact text until it expires (`verified.py`); revocation is checked on
every request all the same.

Tokens of `settings.trusted_issuers` (hub/auth/issuers.py) are verified against that issuer's
JWKS (`jwks.py`). Their role names come from `roles_claim` (a dotted path, list or
space-separated string), pass through the issuer's `role_map` and count only when the issuer's
`allowed_roles` lists them: an outside issuer grants no hub role it was not given. The grid
comes from `grid_claim`, scopes from `scope` or `scp`. Deliberate relaxation: such tokens may
be typed `JWT` as well as `at+jwt`, because widespread OpenID providers (Keycloak, Microsoft
Entra ID) type their access tokens `JWT`; the confusion this invites with ID tokens is closed
by requiring the hub's audience and refusing tokens carrying `nonce`.

Roles decide scopes: a token's scopes are cut down to those its known roles grant in the
policy. An external token naming no hub scope at all gets every scope of its roles.
Revocation: a revoked jti, a revoked hub client, or a client blocked for its issuer
(`hub clients block --issuer ISS CLIENT_ID`) is refused.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from joserfc.errors import ClaimError, ExpiredTokenError, InvalidClaimError, MissingClaimError
from joserfc.jwk import Key
from joserfc.jwt import ClaimsOption, JWTClaimsRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.issuers import TrustedIssuer, check_roles
from hub.auth.keys import KeyStore
from hub.auth.policy import KNOWN_SCOPES, Policy, RowScope
from hub.auth.scopes import ScopeSyntaxError, checked_scopes
from hub.auth.tokens.claims import AccessClaims, TokenError
from hub.auth.tokens.jwks import RemoteKeySet
from hub.auth.tokens.jws import check_header, parse, verify_signature
from hub.auth.tokens.revocation import RevocationList
from hub.auth.tokens.verified import VerifiedTokens
from hub.config import Settings

# RFC 9068 §2.2: required claims of a JWT access token.
_LOCAL_REQUIRED_CLAIMS = ("sub", "client_id", "iat", "jti")
_EXTERNAL_REQUIRED_CLAIMS = ("sub",)


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
        self.revocations = RevocationList(
            engine, refresh_seconds=settings.revocation_refresh_seconds
        )
        check_roles(settings.trusted_issuers, policy.roles)
        self.verified = VerifiedTokens(leeway_seconds=settings.token_leeway_seconds)
        self._remote = {
            trusted.issuer: RemoteKeySet(trusted, timeout_seconds=jwks_timeout_seconds)
            for trusted in settings.trusted_issuers
        }

    def remote_keys(self, issuer: str) -> RemoteKeySet | None:
        """The cached key set of a trusted issuer (shared with console sign-in's ID tokens)."""
        return self._remote.get(issuer)

    async def verify(self, token: str) -> AccessClaims:
        """The claims of a valid token; `TokenError` for anything else."""
        access = self._remembered(token)
        if access is None:
            access = await self._verify(token)
        await self._check_not_revoked(access, local=access.issuer == self._settings.issuer)
        return access

    def _remembered(self, token: str) -> AccessClaims | None:
        """A local token verified before, its key unchanged and not yet expired (verified.py)."""
        entry = self.verified.get(token)
        if entry is None:
            return None
        signing_key = self._keystore.verification_key(entry.kid)
        if signing_key is None or signing_key.key is not entry.key:
            self.verified.forget(token)
            return None
        return entry.claims

    async def _verify(self, token: str) -> AccessClaims:
        parsed = parse(token)
        issuer = parsed.claims.get("iss")
        local = issuer == self._settings.issuer
        remote = None if local or not isinstance(issuer, str) else self._remote.get(issuer)
        if not local and remote is None:
            raise TokenError("token issuer is not trusted")
        algorithm, kid = check_header(parsed.header, local=local, remote=remote)
        key = await self._key(kid, remote)
        claims = await self._signed_claims(token, key, algorithm, kid, remote)
        if remote is None:
            access = self._local_claims(claims)
            self.verified.remember(token, access, kid=kid, key=key)
        else:
            access = self._external_claims(claims, remote.trusted, token)
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

    async def _signed_claims(
        self, token: str, key: Key, algorithm: str, kid: str, remote: RemoteKeySet | None
    ) -> dict[str, Any]:
        """The signed claims; for an outside issuer a failed signature may mean the provider
        replaced the key under the same kid, so the key set is refetched (rate-limited) once."""
        try:
            return verify_signature(token, key, algorithm)
        except TokenError:
            replacement = await remote.replaced(kid, key) if remote is not None else None
            if replacement is None:
                raise
        return verify_signature(token, replacement, algorithm)

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
        scopes = _scopes(claims.get("scope", ""))
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
        roles, grid = outside_roles_and_grid(claims, trusted, self._policy)
        if not roles:
            raise TokenError("token carries no role this issuer may grant")
        scopes = _scopes(claims.get("scope", claims.get("scp", "")))
        subject = _string(claims["sub"])
        client_id = claims.get("client_id", claims.get("azp", subject))
        jti = claims.get("jti") or "sha256:" + hashlib.sha256(token.encode()).hexdigest()
        issued = claims.get("iat", time.time())
        return AccessClaims(
            issuer=trusted.issuer,
            subject=subject,
            client_id=_string(client_id),
            scopes=self._authorized_scopes(roles, grid, scopes, external=True),
            roles=tuple(roles),
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
        """RFC 7009 §2: a revoked token, or any token of a revoked client, is refused; so is
        every token of a client blocked for its issuer."""
        client_id = access.client_id if local else None
        revocations = self.revocations
        if await revocations.is_revoked(jti=access.jti, client_id=client_id):
            raise TokenError("token has been revoked")
        if await revocations.is_blocked(issuer=access.issuer, client_id=access.client_id):
            raise TokenError("the token's client is blocked at this hub")


def outside_roles_and_grid(
    claims: Mapping[str, Any], trusted: TrustedIssuer, policy: Policy
) -> tuple[list[str], str | None]:
    """The hub roles and grid an outside issuer's claims grant: role names from
    `roles_claim` through `role_map`, kept when `allowed_roles` and the policy know them;
    the grid from `grid_claim`. The same for access tokens and console sign-in's ID tokens."""
    names = _string_list(_claim_at(claims, trusted.roles_claim))
    roles = [role for role in trusted.hub_roles(names) if role in policy.roles]
    grid_value = _claim_at(claims, trusted.grid_claim)
    usable_grid = isinstance(grid_value, int | str) and not isinstance(grid_value, bool)
    grid = str(grid_value) if usable_grid and grid_value != "" else None
    return roles, grid


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
    """A list of strings, or a string of items separated by ASCII spaces (RFC 6749 §3.3 style:
    never by tabs or Unicode spaces)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [item for item in value.split(" ") if item]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise TokenError("token claims are invalid")


def _scopes(value: Any) -> frozenset[str]:
    """A `scope` string or `scp` list; a malformed scope-token refuses the token."""
    try:
        return frozenset(checked_scopes(_string_list(value)))
    except ScopeSyntaxError:
        raise TokenError("token claims are invalid") from None


def _timestamp(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError("token claims are invalid")
    return datetime.fromtimestamp(value, UTC)
