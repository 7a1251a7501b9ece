"""One authentication seam: every way into the hub yields a `Caller` or an `AuthenticationError`.

`Authenticator.authenticate(connection)` reads the bearer token of an HTTP request or of a
websocket handshake (`Authorization` header); for a websocket whose handshake carried none,
`authenticate(websocket, connection_params=payload)` reads the `Authorization` entry of the
`connection_init` payload (graphql-transport-ws; browsers cannot set handshake headers).
Console sessions will arrive here too. Whatever the way in, the token is verified by the same
`TokenVerifier` and turned into a `Caller` by the same policy, so no path is more lenient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from starlette.datastructures import Headers, QueryParams
from starlette.requests import HTTPConnection

from hub.auth.caller import Caller, GridPaths, caller_from_claims
from hub.auth.policy import Policy
from hub.auth.tokens import TokenError, TokenVerifier
from hub.storage.base import utcnow

MAX_AUTHORIZATION_HEADER = 8 * 1024 + len("Bearer ")


class AuthenticationError(Exception):
    """No usable credential; `description` is safe to send to the caller (RFC 6750 §3)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def bearer_token(headers: Headers, query: QueryParams) -> str:
    """The token of an `Authorization: Bearer` header; tokens in URLs are refused."""
    if "access_token" in query:
        # RFC 6750 §2.3 allows it; RFC 9700 §4.3.2 explains why we do not (logs, referrers).
        raise AuthenticationError("send the token in the Authorization header, not in the URL")
    header = headers.get("authorization")
    if not header:
        raise AuthenticationError("no bearer token; get one from /oauth/token")
    return _bearer(header)


def bearer_in_params(params: Mapping[str, object]) -> str:
    """The token of a `connection_init` payload's `Authorization` entry (any letter case)."""
    value = next((v for k, v in params.items() if k.lower() == "authorization"), None)
    if not isinstance(value, str) or not value:
        raise AuthenticationError(
            'no bearer token; send {"Authorization": "Bearer <token>"} in connection_init'
        )
    return _bearer(value)


def _bearer(value: str) -> str:
    if len(value) > MAX_AUTHORIZATION_HEADER:
        raise AuthenticationError("token too large")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


@dataclass(frozen=True)
class Authenticator:
    """Verifies credentials and applies the role policy; shared by every endpoint."""

    verifier: TokenVerifier
    policy: Policy
    grid_paths: GridPaths

    async def authenticate(
        self, connection: HTTPConnection, *, connection_params: Mapping[str, object] | None = None
    ) -> Caller:
        if connection_params is not None:
            token = bearer_in_params(connection_params)
        else:
            token = bearer_token(connection.headers, connection.query_params)
        try:
            claims = await self.verifier.verify(token)
        except TokenError as error:
            raise AuthenticationError(error.description) from error
        return await caller_from_claims(claims, policy=self.policy, grid_paths=self.grid_paths)

    async def ended(self, caller: Caller, *, now: datetime | None = None) -> str | None:
        """Why a connection authenticated as `caller` must end now, or None while its token
        holds: it expired, or it (or its client) was revoked since (RFC 7009 §2)."""
        if caller.expires_at is not None and (now or utcnow()) >= caller.expires_at:
            return "token has expired"
        if caller.token_id is not None and await self.verifier.revocations.is_revoked(
            jti=caller.token_id, client_id=caller.client_id
        ):
            return "token has been revoked"
        return None
