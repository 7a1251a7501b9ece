"""Issuing JWT access tokens (RFC 9068 §2), signed with the key store's current signer.

Issued tokens carry the header `{"typ": "at+jwt", "alg": ..., "kid": ...}` and the claims
iss, aud, sub, client_id, scope, roles, grid (only when set), iat, nbf, exp and jti.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Sequence
from typing import Any

from joserfc.jwt import encode as encode_jwt

from hub.auth.keys import KeyStore
from hub.auth.tokens.claims import ACCESS_TOKEN_TYPE
from hub.config import Settings


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
