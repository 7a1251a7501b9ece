"""The revocation endpoint (RFC 7009): a client revokes its own access tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import anyio.from_thread
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _AuthlibRevocationEndpoint

from hub.auth.oauth.clients import RegisteredClient
from hub.auth.oauth.metadata import AUTH_METHODS
from hub.auth.oauth.requests import StarletteOAuth2Request
from hub.auth.tokens import AccessClaims, TokenError, revoke

if TYPE_CHECKING:
    from hub.auth.runtime import AuthRuntime


@dataclass(frozen=True)
class IssuedToken:
    """One of this hub's access tokens, as authlib's revocation endpoint wants a token."""

    claims: AccessClaims

    def check_client(self, client: RegisteredClient) -> bool:
        return self.claims.client_id == client.get_client_id()


class RevocationEndpoint(_AuthlibRevocationEndpoint):  # type: ignore[misc]
    """RFC 7009: a client revokes its own access tokens; unknown tokens still answer 200."""

    CLIENT_AUTH_METHODS = AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = ("access_token", "refresh_token")

    def check_params(self, request: StarletteOAuth2Request, client: RegisteredClient) -> None:
        """`token` is required; the hint is ignored, as RFC 7009 §2.1 allows: the hub issues
        access tokens only, so every token is looked up as one."""
        if not request.form.get("token"):
            raise InvalidRequestError("missing 'token' parameter")

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        runtime: AuthRuntime = self.server.runtime
        claims = anyio.from_thread.run(own_token_claims, runtime, token_string)
        return IssuedToken(claims) if claims is not None else None

    def revoke_token(self, token: IssuedToken, request: StarletteOAuth2Request) -> None:
        runtime: AuthRuntime = self.server.runtime
        anyio.from_thread.run(_revoke, runtime, token.claims.jti, token.claims.expires_at)


async def own_token_claims(runtime: AuthRuntime, token: str) -> AccessClaims | None:
    """The claims of a valid token this hub issued; None for anything else."""
    try:
        claims = await runtime.verifier.verify(token)
    except TokenError:
        return None
    return claims if claims.issuer == runtime.settings.issuer else None


async def _revoke(runtime: AuthRuntime, jti: str, expires_at: datetime) -> None:
    await revoke(runtime.engine, jti=jti, expires_at=expires_at)
