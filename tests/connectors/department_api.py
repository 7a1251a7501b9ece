"""A fake department JSON API on a real loopback port, with switchable faults, for connector tests.

Serves one ordered list of records through four pagination styles (`/page`, `/offset`,
`/cursor`, `/link`), filters `updated_since` inclusively, and can require an API key or an
OAuth 2.0 client-credentials token (issued by `/token`, short-lived, rejected once expired).
Faults are counters the test sets: the next N requests fail with 5xx, 429 + Retry-After,
a slow response or a malformed JSON body; `repeat_across_pages` repeats the last record of
each page at the start of the next.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Faults:
    server_errors: int = 0
    throttles: int = 0
    retry_after: str = "1"
    slow: int = 0
    slow_seconds: float = 1.0
    malformed: int = 0
    malformed_from_request: int | None = None  # every request from the Nth on gets a broken body
    repeat_across_pages: bool = False


@dataclass
class FakeApi:
    """The API's state; tests mutate it between runs."""

    records: list[dict[str, Any]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    api_key: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_ttl: int = 1
    tokens: dict[str, float] = field(default_factory=dict)
    tokens_issued: int = 0
    requests: list[str] = field(default_factory=list)
    rejected_expired: int = 0
    base_url: str = ""

    def reset(self) -> None:
        self.records, self.faults, self.requests, self.tokens = [], Faults(), [], {}
        self.api_key = self.client_id = self.client_secret = None
        self.tokens_issued = self.rejected_expired = 0
        self.token_ttl = 1

    # --- request handling ------------------------------------------------------------------

    def selected(self, request: Request) -> list[dict[str, Any]]:
        since = request.query_params.get("updated_since")
        rows = self.records
        if since:
            bound = datetime.fromisoformat(since)
            rows = [r for r in rows if datetime.fromisoformat(r["updated_at"]) >= bound]
        return rows

    def window(self, rows: list[dict[str, Any]], start: int, size: int) -> list[dict[str, Any]]:
        page = rows[start : start + size]
        if self.faults.repeat_across_pages and start > 0 and page:
            page = [rows[start - 1], *page]
        return page

    def fault(self) -> Response | None:
        f = self.faults
        if f.server_errors:
            f.server_errors -= 1
            return JSONResponse({"error": "upstream down"}, 503)
        if f.throttles:
            f.throttles -= 1
            return JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": f.retry_after})
        broken_from = f.malformed_from_request
        if f.malformed or (broken_from is not None and len(self.requests) >= broken_from):
            f.malformed = max(0, f.malformed - 1)
            return Response('{"data": [ {"id": ', media_type="application/json")
        return None

    def unauthorized(self, request: Request) -> Response | None:
        if self.api_key is not None and request.headers.get("X-API-Key") != self.api_key:
            return JSONResponse({"error": "bad key"}, 401)
        if self.client_id is not None:
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            expires = self.tokens.get(token)
            if expires is None or expires < time.monotonic():
                self.rejected_expired += expires is not None
                return JSONResponse({"error": "invalid_token"}, 401)
        return None


def _app(api: FakeApi) -> Starlette:
    async def guarded(request: Request) -> Response | None:
        api.requests.append(str(request.url))
        if (denied := api.unauthorized(request)) is not None:
            return denied
        if api.faults.slow:
            api.faults.slow -= 1
            await asyncio.sleep(api.faults.slow_seconds)
        return api.fault()

    async def page(request: Request) -> Response:
        if (early := await guarded(request)) is not None:
            return early
        number, size = int(request.query_params["page"]), int(request.query_params["page_size"])
        rows = api.window(api.selected(request), (number - 1) * size, size)
        return JSONResponse({"data": rows, "page": number})

    async def offset(request: Request) -> Response:
        if (early := await guarded(request)) is not None:
            return early
        start, limit = int(request.query_params["offset"]), int(request.query_params["limit"])
        return JSONResponse({"result": {"items": api.window(api.selected(request), start, limit)}})

    async def cursor(request: Request) -> Response:
        if (early := await guarded(request)) is not None:
            return early
        token = request.query_params.get("cursor")
        start = int(base64.urlsafe_b64decode(token).decode()) if token else 0
        size = int(request.query_params["limit"])
        rows = api.selected(request)
        following = start + size
        next_cursor = (
            base64.urlsafe_b64encode(str(following).encode()).decode()
            if following < len(rows)
            else None
        )
        return JSONResponse({"data": api.window(rows, start, size), "next_cursor": next_cursor})

    async def link(request: Request) -> Response:
        if (early := await guarded(request)) is not None:
            return early
        number, size = (
            int(request.query_params.get("p", "1")),
            int(request.query_params["per_page"]),
        )
        rows = api.selected(request)
        headers = {}
        if number * size < len(rows):
            following = request.url.include_query_params(p=number + 1)
            headers["Link"] = f'<{following}>; rel="next", <{request.url}>; rel="self"'
        return JSONResponse(api.window(rows, (number - 1) * size, size), headers=headers)

    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        else:
            client_id, secret = str(form.get("client_id")), str(form.get("client_secret"))
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if (client_id, secret) != (api.client_id, api.client_secret):
            return JSONResponse({"error": "invalid_client"}, 401)
        issued = secrets.token_urlsafe(16)
        api.tokens[issued] = time.monotonic() + api.token_ttl
        api.tokens_issued += 1
        body = {"access_token": issued, "token_type": "Bearer", "expires_in": api.token_ttl}
        return JSONResponse(body)

    routes = [
        Route("/page", page), Route("/offset", offset), Route("/cursor", cursor),
        Route("/link", link), Route("/token", token, methods=["POST"]),
    ]  # fmt: skip
    return Starlette(routes=routes)


@contextmanager
def serve(api: FakeApi) -> Iterator[FakeApi]:
    """Run the fake API with uvicorn in a thread on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(_app(api), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake department API did not start")
        time.sleep(0.01)
    api.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield api
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
