"""The one ASGI adapter of the limits: the checks of this package, applied to HTTP traffic.

`LimitsMiddleware` wraps the whole app:
  - believes X-Forwarded-For only from trusted proxies, rewriting `scope["client"]` so the
    audit trail and every throttle see the same address (forwarded.py);
  - refuses oversized headers with 431 (requests.py);
  - admits at most `max_in_flight` requests per worker, queues a bounded number more and
    sheds the rest with a fast 503 + Retry-After (shedding.py); health checks, metrics and
    websockets are not counted;
  - answers a database that cannot be reached with 503 UNAVAILABLE + Retry-After on every
    endpoint, never a bare 500 (availability.py).

`GraphQLRequestReader` wraps one GraphQL endpoint, behind authentication: it reads the
body under the size limit (413) and checks the request's shape (requests.py) before any
GraphQL work, handing the checked request on in `scope["state"]["graphql_request"]`.

Every refusal is answered in the GraphQL response format with its code; refusals of
requests to a GraphQL endpoint are handed to `on_refused` for the audit trail.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection

import orjson
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.limits import requests
from hub.limits.availability import RETRY_AFTER_SECONDS, is_unavailable
from hub.limits.forwarded import TrustedProxies
from hub.limits.refusals import Refusal, bad_request, unavailable
from hub.limits.requests import HttpLimits
from hub.limits.shedding import Admission

logger = logging.getLogger("gridhub.limits")

OnRefused = Callable[[HTTPConnection, Refusal], Awaitable[None]]
OAUTH_PREFIX = "/oauth/"
NOT_COUNTED = frozenset({"/healthz", "/readyz", "/metrics"})


async def send_refusal(refusal: Refusal, scope: Scope, send: Send) -> None:
    """The refusal as an HTTP response (an OAuth error body on the OAuth endpoints)."""
    body = refusal.body()
    if scope.get("path", "").startswith(OAUTH_PREFIX):
        body = _oauth_body(refusal)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *((name.lower().encode(), value.encode()) for name, value in refusal.headers.items()),
    ]
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _oauth_body(refusal: Refusal) -> bytes:
    error = "temporarily_unavailable" if refusal.status == 503 else "invalid_request"
    body = {"error": error, "error_description": refusal.message, "code": refusal.code.value}
    return orjson.dumps(body)


class LimitsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: HttpLimits,
        proxies: TrustedProxies,
        admission: Admission,
        on_refused: Callable[[str], OnRefused | None] = lambda path: None,
        not_counted: Collection[str] = NOT_COUNTED,
    ) -> None:
        self.app = app
        self.limits = limits
        self.proxies = proxies
        self.admission = admission
        self.on_refused = on_refused
        self.not_counted = frozenset(not_counted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope = self._with_client(scope)
        refusal = requests.check_headers(scope["headers"], self.limits)
        if refusal is not None:
            await self._refuse(refusal, scope, send)
            return
        if scope["type"] == "websocket" or scope["path"] in self.not_counted:
            await self.app(scope, receive, send)
            return
        try:
            async with self.admission.slot():
                await self._guarded(scope, receive, send)
        except Refusal as shed:
            await self._refuse(shed, scope, send)

    def _with_client(self, scope: Scope) -> Scope:
        peer = scope.get("client")
        forwarded = [
            value.decode("latin-1")
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
        ]
        if peer is None or not forwarded:
            return scope
        address = self.proxies.client_address(peer[0], forwarded)
        if address == peer[0]:
            return scope
        return {**scope, "client": (address, 0)}

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            if started or not is_unavailable(error):
                raise
            logger.warning(
                "database unreachable: %s %s answered 503", scope["method"], scope["path"]
            )
            refusal = unavailable(
                "the database cannot be reached; retry later", retry_after=RETRY_AFTER_SECONDS
            )
            await self._refuse(refusal, scope, send)

    async def _refuse(self, refusal: Refusal, scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013 if refusal.status == 503 else 1009})
            return
        hook = self.on_refused(scope.get("path", ""))
        if hook is not None:
            with contextlib.suppress(Exception):  # refused either way; audit is best effort
                await hook(HTTPConnection(scope), refusal)
        await send_refusal(refusal, scope, send)


class GraphQLRequestReader:
    """Reads and checks a GraphQL request over HTTP before the GraphQL app sees it."""

    def __init__(self, app: ASGIApp, *, limits: HttpLimits, on_refused: OnRefused | None) -> None:
        self.app = app
        self.limits = limits
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        try:
            request = await self._read(scope, connection, receive)
        except Refusal as refusal:
            if self.on_refused is not None:
                with contextlib.suppress(Exception):
                    await self.on_refused(connection, refusal)
            await send_refusal(refusal, scope, send)
            return
        if request is not None:
            scope.setdefault("state", {})["graphql_request"] = request
        await self.app(scope, receive, send)

    async def _read(
        self, scope: Scope, connection: HTTPConnection, receive: Receive
    ) -> requests.GraphQLRequest | None:
        if scope["method"] in ("GET", "HEAD"):
            return requests.read_get(connection.query_params, self.limits)
        if scope["method"] != "POST":
            raise bad_request("send GraphQL requests with POST", status=405, Allow="POST")
        requests.check_post_type(connection.headers.get("content-type"))
        if requests.declared_length_too_large(
            connection.headers.get("content-length"), self.limits
        ):
            raise requests.body_too_large(self.limits)
        body = await self._body(receive)
        return requests.read_post(body, self.limits)

    async def _body(self, receive: Receive) -> bytes:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise bad_request("the client went away before sending the body")
            body += message.get("body", b"")
            if len(body) > self.limits.max_body_bytes:
                raise requests.body_too_large(self.limits)
            if not message.get("more_body", False):
                return bytes(body)
