"""The resource-server side: every GraphQL request must carry a valid bearer token.

An ASGI wrapper in front of each GraphQL endpoint verifies the token before strawberry
sees the request and hands the resulting `Caller` on in the request state. Refusals are
HTTP 401 with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from typing import Protocol

import orjson
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.auth.caller import GridPaths, caller_from_claims
from hub.auth.policy import Policy
from hub.auth.tokens import TokenError, TokenVerifier
from schema.context import Caller
from schema.errors import UNAUTHENTICATED

MAX_AUTHORIZATION_HEADER = 8 * 1024 + len("Bearer ")


class OnRefused(Protocol):
    def __call__(self, request: Request, *, endpoint: str) -> Awaitable[None]: ...


class AuthenticationError(Exception):
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
    if len(header) > MAX_AUTHORIZATION_HEADER:
        raise AuthenticationError("token too large")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def unauthorized(description: str) -> Response:
    body = {"errors": [{"message": description, "extensions": {"code": UNAUTHENTICATED}}]}
    quoted = description.replace("\\", "").replace('"', "'")
    challenge = f'Bearer realm="gridhub", error="invalid_token", error_description="{quoted}"'
    return Response(
        orjson.dumps(body),
        status_code=401,
        media_type="application/json",
        headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
    )


class RequireBearerToken:
    """Authenticates GraphQL requests; lets the GraphiQL page itself through (GET, no query)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: TokenVerifier,
        policy: Policy,
        grid_paths: GridPaths,
        on_refused: OnRefused | None = None,
        endpoint: str = "graphql",
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.policy = policy
        self.grid_paths = grid_paths
        self.on_refused = on_refused
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if request.method in ("GET", "HEAD") and "query" not in request.query_params:
            await self.app(scope, receive, send)  # the GraphiQL page carries no data
            return
        try:
            caller = await self.authenticate(request)
        except AuthenticationError as error:
            if self.on_refused is not None:
                with contextlib.suppress(Exception):  # refused either way; the audit is best effort
                    await self.on_refused(request, endpoint=self.endpoint)
            await unauthorized(error.description)(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)

    async def authenticate(self, request: Request) -> Caller:
        token = bearer_token(request.headers, request.query_params)
        try:
            claims = await self.verifier.verify(token)
        except TokenError as error:
            raise AuthenticationError(error.description) from error
        return await caller_from_claims(claims, policy=self.policy, grid_paths=self.grid_paths)
