"""Tokens already verified, remembered by their exact text until they expire.

A client sends the same token with every request; verifying it again (parsing, an ECDSA or
RSA signature, the claims) cost about half a millisecond of each lookup's CPU. What is
remembered is only what cannot change for those exact bytes: the signature and the claims.
Everything that can change is still checked on every request by the verifier: revocation
(the in-memory list), and here, on every hit, expiry (with the same leeway) and that the
signing key is still the very key the keystore publishes under that kid (a removed,
expired or reloaded key sends the token through full verification again). Only the hub's
own tokens are remembered; trusted issuers' tokens are verified every time.

Bounded: at most `max_entries` tokens; the oldest entry is dropped first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from joserfc.jwk import Key

from hub.auth.tokens.claims import AccessClaims

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Verified:
    claims: AccessClaims
    kid: str
    key: Key
    valid_until: float  # exp + leeway, seconds since the epoch


class VerifiedTokens:
    def __init__(self, *, leeway_seconds: int, max_entries: int = MAX_ENTRIES) -> None:
        self._leeway = leeway_seconds
        self._max_entries = max_entries
        self._entries: dict[str, Verified] = {}

    def get(self, token: str) -> Verified | None:
        """The remembered verification of `token`, if it has not expired since."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        if time.time() > entry.valid_until:
            del self._entries[token]
            return None
        return entry

    def remember(self, token: str, claims: AccessClaims, *, kid: str, key: Key) -> None:
        if len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        valid_until = claims.expires_at.timestamp() + self._leeway
        self._entries[token] = Verified(claims, kid, key, valid_until)

    def forget(self, token: str) -> None:
        self._entries.pop(token, None)

    def __len__(self) -> int:
        return len(self._entries)
