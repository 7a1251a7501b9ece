"""What an access token says: GridHub's RFC 9068 profile, `AccessClaims` and `TokenError`.

Shared by issuing and verifying, and read by callers (the resource server, revocation), so
none of them imports the other's module to name a verified token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068 §2.1: the `typ` header of a JWT access token
LOCAL_ALGORITHMS = frozenset({"RS256", "ES256"})  # what this hub signs with (RFC 8725 §3.1)


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
