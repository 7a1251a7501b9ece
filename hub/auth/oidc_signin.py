"""The hub as a relying party: people sign in to the consoles at a trusted outside provider.

OpenID Connect Core 1.0 §3.1, the authorization code flow, with PKCE S256 (RFC 7636), `state`
and `nonce`. Per trusted issuer with console settings (hub/auth/issuers.py):

- the provider's endpoints come from its discovery document (`/.well-known/openid-
  configuration`, OpenID Connect Discovery 1.0 §4), whose `issuer` must be exactly the
  configured one (§4.3); the document is kept `discovery_cache_seconds`;
- the code is exchanged at its token endpoint (client_secret_basic with the configured
  secret, or a public client with PKCE only);
- the ID token is verified (Core §3.1.3.7): a compact JWS with no header that could steer the
  key (`jwk`, `jku`, `x5u`, …), typed `JWT` when typed at all (never an access token's
  `at+jwt`), an algorithm from the issuer's `algorithms`, the key by `kid` from the issuer's
  key set (the very cache the access-token verifier uses), then `iss`, `aud` (the console
  client id; several audiences need `azp` to be it), `exp`, `iat` with the hub's leeway,
  `sub`, and the `nonce` this browser was given.

Every refusal is a `SignInRefused` naming a short reason (for the audit trail and the log)
and the message key the person is shown; nothing here raises anything else for bad input.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

import httpx
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jwt import JWTClaimsRegistry

from hub.auth.issuers import IssuerConfigError, TrustedIssuer
from hub.auth.tokens.claims import TokenError
from hub.auth.tokens.jwks import RemoteKeySet
from hub.auth.tokens.jws import parse, verify_signature

MAX_DOCUMENT_BYTES = 256 * 1024
# Header parameters that could make us fetch or trust a key the token chose (RFC 8725 §3.10).
_FORBIDDEN_HEADERS = frozenset({"crit", "jwk", "jku", "x5u", "x5c", "b64", "cty", "enc", "zip"})
_ID_TOKEN_TYPES = frozenset({"jwt", "application/jwt"})


class SignInRefused(Exception):
    """Sign-in at an outside provider failed; `reason` for the record, `message` to show."""

    def __init__(self, reason: str, message: str = "outside.failed", *, status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ProviderEndpoints:
    authorization_endpoint: str
    token_endpoint: str


class OutsideProviders:
    """Discovery, code exchange and ID-token checks for the issuers with console settings."""

    def __init__(
        self,
        issuers: tuple[TrustedIssuer, ...],
        key_sets: Callable[[str], RemoteKeySet | None],
        *,
        leeway_seconds: int,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuers = {trusted.name: trusted for trusted in issuers if trusted.console}
        self._key_sets = key_sets
        self._leeway = leeway_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._discovered: dict[str, tuple[float, ProviderEndpoints]] = {}

    def named(self, name: str) -> TrustedIssuer:
        trusted = self.issuers.get(name)
        if trusted is None:
            raise SignInRefused("unknown_issuer", "outside.unknown", status=404)
        return trusted

    # --- discovery ------------------------------------------------------------------------

    async def endpoints(self, trusted: TrustedIssuer) -> ProviderEndpoints:
        cached = self._discovered.get(trusted.issuer)
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        try:
            document = await self._get_json(trusted.discovery_url)
        except (httpx.HTTPError, ValueError):
            raise SignInRefused("provider_unreachable", "outside.unreachable", status=502) from None
        if not isinstance(document, dict) or document.get("issuer") != trusted.issuer:
            raise SignInRefused("discovery_mismatch", "outside.unreachable", status=502)
        found = ProviderEndpoints(
            authorization_endpoint=_endpoint(document, "authorization_endpoint", trusted),
            token_endpoint=_endpoint(document, "token_endpoint", trusted),
        )
        self._discovered[trusted.issuer] = (self._clock() + trusted.discovery_cache_seconds, found)
        return found

    async def _get_json(self, url: str) -> Any:
        async with (
            httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client,
            client.stream("GET", url, headers={"Accept": "application/json"}) as response,
        ):
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise ValueError("document too large")
        return json.loads(bytes(body))

    # --- the flow -------------------------------------------------------------------------

    def authorization_url(
        self,
        trusted: TrustedIssuer,
        endpoints: ProviderEndpoints,
        *,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_challenge: str,
    ) -> str:
        assert trusted.console_client_id is not None
        query = urlencode(
            {
                "response_type": "code",
                "client_id": trusted.console_client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(trusted.console_scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if urlsplit(endpoints.authorization_endpoint).query else "?"
        return f"{endpoints.authorization_endpoint}{separator}{query}"

    async def exchange(
        self, trusted: TrustedIssuer, *, code: str, redirect_uri: str, code_verifier: str
    ) -> str:
        """The ID token the provider's token endpoint gives for `code` (Core §3.1.3.1-3)."""
        assert trusted.console_client_id is not None
        endpoints = await self.endpoints(trusted)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        try:
            secret = trusted.console_client_secret()
        except IssuerConfigError:
            raise SignInRefused("client_secret_unreadable", "outside.failed", status=500) from None
        headers = {"Accept": "application/json"}
        if secret is None:
            form["client_id"] = trusted.console_client_id
        else:  # client_secret_basic: each part form-encoded first (RFC 6749 §2.3.1)
            pair = f"{quote_plus(trusted.console_client_id)}:{quote_plus(secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                response = await client.post(endpoints.token_endpoint, data=form, headers=headers)
        except httpx.HTTPError:
            raise SignInRefused("provider_unreachable", "outside.unreachable", status=502) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            raise SignInRefused("code_refused", "signin.expired")
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("no_id_token")
        return id_token

    # --- the ID token ---------------------------------------------------------------------

    async def verify_id_token(
        self, trusted: TrustedIssuer, id_token: str, *, nonce: str, now: float | None = None
    ) -> dict[str, Any]:
        """The ID token's claims once signature and claims hold (Core §3.1.3.7)."""
        remote = self._key_sets(trusted.issuer)
        if remote is None:
            raise SignInRefused("unknown_issuer", "outside.unknown", status=404)
        try:
            parsed = parse(id_token)
        except TokenError:
            raise SignInRefused("bad_id_token") from None
        algorithm, kid = _checked_header(parsed.header, trusted)
        key = await remote.key(kid)
        if key is None:
            raise SignInRefused("bad_id_token_key")
        try:
            claims = verify_signature(id_token, key, algorithm)
        except TokenError:
            replacement = await remote.replaced(kid, key)
            if replacement is None:
                raise SignInRefused("bad_id_token_signature") from None
            try:
                claims = verify_signature(id_token, replacement, algorithm)
            except TokenError:
                raise SignInRefused("bad_id_token_signature") from None
        self._check_claims(claims, trusted, nonce=nonce, now=now)
        return claims

    def _check_claims(
        self, claims: dict[str, Any], trusted: TrustedIssuer, *, nonce: str, now: float | None
    ) -> None:
        client_id = trusted.console_client_id
        registry = JWTClaimsRegistry(
            now=int(now if now is not None else time.time()),
            leeway=self._leeway,
            iss={"essential": True, "value": trusted.issuer},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise SignInRefused("id_token_expired") from None
        except (ClaimError, JoseError, TypeError, ValueError):
            raise SignInRefused("bad_id_token_claims") from None
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or client_id not in audiences:
            raise SignInRefused("id_token_audience")
        if len(audiences) > 1 and claims.get("azp") != client_id:
            raise SignInRefused("id_token_audience")
        given = claims.get("nonce")
        if not isinstance(given, str) or not hmac.compare_digest(
            given.encode("utf-8"), nonce.encode("utf-8")
        ):
            raise SignInRefused("nonce_mismatch")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise SignInRefused("bad_id_token_claims")


def _checked_header(header: dict[str, Any], trusted: TrustedIssuer) -> tuple[str, str]:
    if _FORBIDDEN_HEADERS & header.keys():
        raise SignInRefused("bad_id_token_header")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ID_TOKEN_TYPES):
        raise SignInRefused("bad_id_token_header")
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in trusted.algorithms:
        raise SignInRefused("bad_id_token_header")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise SignInRefused("bad_id_token_key")
    return algorithm, kid


def _endpoint(document: dict[str, Any], name: str, trusted: TrustedIssuer) -> str:
    """An endpoint of the discovery document: https, or http like the issuer itself."""
    value = document.get(name)
    if not isinstance(value, str):
        raise SignInRefused("discovery_mismatch", "outside.unreachable", status=502)
    parts = urlsplit(value)
    issuer_scheme = urlsplit(trusted.issuer).scheme
    if not parts.hostname or parts.scheme not in ("https", issuer_scheme):
        raise SignInRefused("discovery_mismatch", "outside.unreachable", status=502)
    return value
