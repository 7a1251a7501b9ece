"""The authorization server's Starlette routes: authorize, token, revocation, JWKS, metadata.

The token and revocation endpoints read the form in async code (`requests.py`), check the
failure throttles, then run authlib's synchronous code in a worker thread (it reaches the
database through the event loop; a capacity limiter bounds how many run at once). Client
secrets verify with a keyed hash in microseconds (`hub/auth/client_secrets.py`), so failures cost
little; they are still counted three ways, each answering 429 with Retry-After:

- per (claimed client id, address): past `max_failures` a minute, refused before any work;
- per address, whatever client ids it claims: past `ADDRESS_FAILURES`, refused before any
  work (one address spraying guesses, unknown ids included);
- per client id, from any address: past `CLIENT_FAILURES`, wrong secrets are answered 429,
  while the right secret still passes, so nobody can lock a client out by failing for it.

The counts are shared by every worker and replica through the database, each worker deciding
from its own copy (throttle.py). The address is the one `LimitsMiddleware` settled on:
X-Forwarded-For counts only from HUB_FORWARDED_ALLOW_IPS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hub.auth.oauth.authorize import authorize
from hub.auth.oauth.metadata import (
    AUTHORIZATION_PATH,
    JWKS_PATH,
    METADATA_PATH,
    REVOCATION_PATH,
    TOKEN_PATH,
    metadata_document,
)
from hub.auth.oauth.requests import (
    BadRequest,
    Outcome,
    StarletteOAuth2Request,
    claimed_client_id,
    error_response,
    read_form,
)
from hub.auth.oauth.server import HubAuthorizationServer

if TYPE_CHECKING:
    from hub.auth.runtime import AuthRuntime


class OAuthEndpoints:
    """The routes, sharing one authlib server, throttle and thread limiter."""

    def __init__(self, runtime: AuthRuntime) -> None:
        self.runtime = runtime
        self.server = HubAuthorizationServer(runtime)
        self.limiter = anyio.CapacityLimiter(runtime.max_concurrent_client_authentications)

    async def token(self, request: Request) -> Response:
        return await self._authenticated(request, TOKEN_PATH, self.server.create_token_response)

    async def authorize(self, request: Request) -> Response:
        return await authorize(self.server, request)

    async def exchange(self, form: dict[str, str]) -> Outcome:
        """The token endpoint called in process with a form (the consoles' code exchange)."""
        oauth_request = StarletteOAuth2Request(
            uri=self.runtime.settings.issuer + TOKEN_PATH, headers=Headers(), form=form
        )
        return await anyio.to_thread.run_sync(
            self.server.create_token_response, oauth_request, limiter=self.limiter
        )

    async def revoke(self, request: Request) -> Response:
        def create(oauth_request: StarletteOAuth2Request) -> Outcome:
            outcome: Outcome = self.server.create_endpoint_response("revocation", oauth_request)
            return outcome

        return await self._authenticated(request, REVOCATION_PATH, create)

    async def _authenticated(
        self,
        request: Request,
        path: str,
        handle: Callable[[StarletteOAuth2Request], Outcome],
    ) -> Response:
        try:
            form = await read_form(request)
        except BadRequest as error:
            return error_response(400, "invalid_request", error.description)
        runtime = self.runtime
        client_id, address = claimed_client_id(request.headers, form), _remote_address(request)
        key = (client_id, address)
        await runtime.address_throttle.refresh((address, ""))
        wait = runtime.address_throttle.retry_after((address, ""))
        if not wait:
            await runtime.throttle.refresh(key)
            wait = runtime.throttle.retry_after(key)
        if wait:
            return _throttled(wait)
        try:
            oauth_request = StarletteOAuth2Request(
                uri=self.runtime.settings.issuer + path, headers=request.headers, form=form
            )
        except InsecureTransportError as error:
            return error_response(400, error.error, "the issuer URL must use https (RFC 6749 §3.2)")
        outcome = await anyio.to_thread.run_sync(handle, oauth_request, limiter=self.limiter)
        if outcome.error == "invalid_client":
            runtime.throttle.failed(key)
            runtime.address_throttle.failed((address, ""))
            await runtime.client_throttle.refresh((client_id, ""))
            runtime.client_throttle.failed((client_id, ""))
            wait = runtime.client_throttle.retry_after((client_id, ""))
            if wait:
                return _throttled(wait)
        elif outcome.status == 200:
            runtime.throttle.succeeded(key)
        return outcome.response()

    async def jwks(self, _: Request) -> Response:
        headers = {"Cache-Control": "public, max-age=60"}
        return JSONResponse(self.runtime.keystore.jwks(), headers=headers)

    async def metadata(self, _: Request) -> Response:
        """RFC 8414 §3.2: the metadata document, cacheable for five minutes."""
        document = metadata_document(self.runtime)
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})


def _throttled(wait: int) -> Response:
    description = "too many failed client authentications; retry later"
    return error_response(429, "temporarily_unavailable", description, **{"Retry-After": str(wait)})


def _remote_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def oauth_routes(runtime: AuthRuntime, endpoints: OAuthEndpoints | None = None) -> list[BaseRoute]:
    """Starlette routes of the authorization server; mount them at the application root."""
    endpoints = endpoints or OAuthEndpoints(runtime)
    return [
        Route(AUTHORIZATION_PATH, endpoints.authorize, methods=["GET"]),
        Route(TOKEN_PATH, endpoints.token, methods=["POST"]),
        Route(REVOCATION_PATH, endpoints.revoke, methods=["POST"]),
        Route(JWKS_PATH, endpoints.jwks, methods=["GET"]),
        Route(METADATA_PATH, endpoints.metadata, methods=["GET"]),
    ]
