"""The grants the server accepts: client credentials (RFC 6749 §4.4), nothing else yet."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidScopeError, grants

from hub.auth.oauth.clients import RegisteredClient
from hub.auth.oauth.metadata import AUTH_METHODS
from hub.auth.scopes import ScopeSyntaxError, split_scope


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    """A client asks for a token for itself; no refresh token is issued (RFC 6749 §4.4.3)."""

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_requested_scope(self) -> None:
        """RFC 6749 §3.3: the scope parameter may narrow the client's scopes, never widen them."""
        client: RegisteredClient = self.request.client
        if not client.scopes:
            raise InvalidScopeError("the client's role grants no scope under the current policy")
        try:
            requested = set(split_scope(self.request.payload.scope or ""))
        except ScopeSyntaxError as error:
            raise InvalidScopeError(str(error)) from None
        beyond = requested - client.scopes
        if beyond:
            raise InvalidScopeError(f"scope not granted to this client: {' '.join(sorted(beyond))}")
