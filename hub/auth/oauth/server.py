"""`HubAuthorizationServer`: authlib's server bound to GridHub's clients, policy, keys, database.

Protocol work is done by authlib's framework-agnostic `AuthorizationServer` (client
credentials grant, RFC 6749 §4.4; authorization code with PKCE for people, §4.1 and RFC 7636; client_secret_basic, client_secret_post and private_key_jwt
client authentication, RFC 6749 §2.3.1 and RFC 7523 §2.2; revocation, RFC 7009). Its hooks run
in a worker thread (see `routes.py`) and reach the database by handing coroutines back to the
event loop with `anyio.from_thread.run`. The server takes the `AuthRuntime` as a plain
dependency; the runtime knows nothing of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.from_thread
from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request

from hub.auth.clients import ClientAuthMethod
from hub.auth.oauth.clients import PrivateKeyJWT, RegisteredClient, load_client
from hub.auth.oauth.codes import (
    CONSOLE_CLIENT_ID,
    AuthorizationCodeGrant,
    ConsoleClient,
    Person,
    RequireS256,
)
from hub.auth.oauth.grants import ClientCredentialsGrant
from hub.auth.oauth.metadata import scopes_supported
from hub.auth.oauth.requests import Outcome, StarletteOAuth2Request
from hub.auth.oauth.revocation import RevocationEndpoint
from hub.auth.scopes import split_scope

if TYPE_CHECKING:
    from hub.auth.runtime import AuthRuntime


class HubAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """authlib's server bound to GridHub's clients, policy, keys and database."""

    def __init__(self, runtime: AuthRuntime) -> None:
        super().__init__(scopes_supported=scopes_supported(runtime))
        self.runtime = runtime
        self.register_token_generator("default", self.generate_bearer_token)
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(AuthorizationCodeGrant, [RequireS256()])
        self.console_client = ConsoleClient(runtime, hasher=runtime.secret_hasher)
        self.register_client_auth_method(
            ClientAuthMethod.private_key_jwt.value, PrivateKeyJWT(runtime)
        )
        self.register_endpoint(RevocationEndpoint)

    # authlib's hooks (called in the worker thread)

    def query_client(self, client_id: str) -> RegisteredClient:
        if client_id == CONSOLE_CLIENT_ID:
            return self.console_client
        return anyio.from_thread.run(load_client, self.runtime, client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Nothing to store: JWT access tokens are self-contained (RFC 9068)."""

    def create_oauth2_request(self, request: StarletteOAuth2Request) -> StarletteOAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Outcome:
        return Outcome(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib's signals have no listeners here."""

    def generate_bearer_token(
        self,
        grant_type: str,
        client: RegisteredClient,
        user: Person | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """RFC 6749 §5.1 response; no refresh token (client credentials: §4.4.3; a person's
        console asks for a new code while the login session lives). A person's token names
        the person (`sub`), the account's role and grid; a client's names the client."""
        requested = set(split_scope(scope or ""))  # checked by the grant already
        if user is not None:
            token, ttl = self.runtime.issuer.issue(
                client_id=client.client_id,
                subject=user.name,
                scopes=sorted(requested),
                roles=[user.role],
                grid=user.grid,
            )
            return {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": ttl,
                "scope": " ".join(sorted(requested)),
            }
        scopes = sorted(requested or client.scopes)
        token, ttl = self.runtime.issuer.issue(
            client_id=client.client_id,
            subject=client.client_id,
            scopes=scopes,
            roles=[client.role],
            grid=client.grid,
        )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(scopes),
        }
