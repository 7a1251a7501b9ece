"""The resource-server side: every GraphQL request and websocket must authenticate.

An ASGI wrapper in front of each GraphQL endpoint authenticates (through the one seam,
`hub/auth/backend.py`) before strawberry sees the connection, and hands the resulting `Caller`
on in the connection's state. HTTP refusals are 401 with
`WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3).

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


class OnRefused(Protocol):
    def __call__(self, request: HTTPConnection, *, endpoint: str) -> Awaitable[None]: ...


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
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.on_refused = on_refused
        self.endpoint = endpoint

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
            await self._refused(connection)
            await unauthorized(error.description)(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)

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

    async def _refused(self, connection: HTTPConnection) -> None:
        if self.on_refused is not None:
            with contextlib.suppress(Exception):  # refused either way; the audit is best effort
                await self.on_refused(connection, endpoint=self.endpoint)
