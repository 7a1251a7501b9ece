"""The resource-server side: every GraphQL request and websocket must authenticate.

An ASGI wrapper in front of each GraphQL endpoint authenticates (through the one seam,
`hub/auth/backend.py`) before strawberry sees the connection, and hands the resulting `Caller`
on in the connection's state. HTTP refusals are 401 with
`WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3).

Requests without a usable token are also counted per client address (`anonymous`, a request
bucket shared through the database); past its limit the answer is 429 RATE_LIMITED with
Retry-After and the RateLimit header fields instead of 401, so a flood of unauthenticated
requests is refused before any token work.

Websockets are never passed through unauthenticated: a handshake carrying an
`Authorization` header is verified here and closed (HTTP 403) when it fails; a handshake
without one goes on to the GraphQL app, which must authenticate the `connection_init`
payload before it acknowledges the connection (`HubGraphQL.on_ws_connect`), or close it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from typing import Protocol

import orjson
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.auth.backend import AuthenticationError, Authenticator
from hub.errors import ErrorCode
from hub.limits.budgets import Decision


class OnRefused(Protocol):
    def __call__(self, request: HTTPConnection, *, endpoint: str) -> Awaitable[None]: ...


class AnonymousLimit(Protocol):
    """Counts one unauthenticated request from an address; the decision carries its headers."""

    def __call__(self, address: str | None) -> Awaitable[Decision]: ...


def rate_limited(decision: Decision) -> Response:
    message = f"too many requests without a valid token; retry after {decision.retry_after} s"
    body = {"errors": [{"message": message, "extensions": {"code": ErrorCode.RATE_LIMITED}}]}
    headers = {**decision.headers(), "Cache-Control": "no-store"}
    return Response(orjson.dumps(body), 429, headers=headers, media_type="application/json")


def unauthorized(description: str) -> Response:
    body = {"errors": [{"message": description, "extensions": {"code": ErrorCode.UNAUTHENTICATED}}]}
    quoted = description.replace("\\", "").replace('"', "'")
    challenge = f'Bearer realm="gridhub", error="invalid_token", error_description="{quoted}"'
    return Response(
        orjson.dumps(body),
        status_code=401,
        media_type="application/json",
        headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
    )


class RequireBearerToken:
    """Authenticates GraphQL connections; lets the GraphiQL page itself through (GET, no query)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticator: Authenticator,
        on_refused: OnRefused | None = None,
        endpoint: str = "graphql",
        anonymous: AnonymousLimit | None = None,
        on_limited: OnRefused | None = None,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.on_refused = on_refused
        self.endpoint = endpoint
        self.anonymous = anonymous
        self.on_limited = on_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection = HTTPConnection(scope)
        if scope["method"] in ("GET", "HEAD") and "query" not in connection.query_params:
            await self.app(scope, receive, send)  # the GraphiQL page carries no data
            return
        try:
            caller = await self.authenticator.authenticate(connection)
        except AuthenticationError as error:
            decision = await self._count_anonymous(connection)
            if decision is not None and not decision.allowed:
                await self._refused(connection, self.on_limited)
                await rate_limited(decision)(scope, receive, send)
                return
            await self._refused(connection)
            await unauthorized(error.description)(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)

    async def _count_anonymous(self, connection: HTTPConnection) -> Decision | None:
        if self.anonymous is None:
            return None
        return await self.anonymous(connection.client.host if connection.client else None)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection = HTTPConnection(scope)
        if "authorization" in connection.headers or "access_token" in connection.query_params:
            try:
                caller = await self.authenticator.authenticate(connection)
            except AuthenticationError:
                await self._refused(connection)
                await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
                return
            scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)

    async def _refused(self, connection: HTTPConnection, hook: OnRefused | None = None) -> None:
        hook = hook or self.on_refused
        if hook is not None:
            with contextlib.suppress(Exception):  # refused either way; the audit is best effort
                await hook(connection, endpoint=self.endpoint)
