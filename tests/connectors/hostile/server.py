"""A department API gone bad, on a real loopback port: each test says how it answers.

`HostileApi.answer` is the one route handler (any path); tests replace it with a function
of the request that misbehaves in one way: redirects, next links to another host, pages
that never end, a byte a second, gzip bombs. Every request is logged with its headers, so a
test can tell whether a credential reached a host it must not.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Answer = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class HostileApi:
    base_url: str = ""
    answer: Answer | None = None
    seen: list[Seen] = field(default_factory=list)

    def reset(self) -> None:
        self.answer, self.seen = None, []

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])


async def _nothing(request: Request) -> Response:
    return JSONResponse({"data": []})


def _app(api: HostileApi) -> Starlette:
    async def route(request: Request) -> Response:
        api.seen.append(Seen(request.url.path, dict(request.query_params), dict(request.headers)))
        return await (api.answer or _nothing)(request)

    return Starlette(routes=[Route("/{path:path}", route, methods=["GET", "POST"])])


@contextmanager
def serve(api: HostileApi) -> Iterator[HostileApi]:
    """Run the API with uvicorn in a thread on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(_app(api), log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the hostile API did not start")
        time.sleep(0.01)
    api.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield api
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# --- ways to answer ----------------------------------------------------------------------------


def pages(*bodies: Any, headers: list[dict[str, str]] | None = None) -> Answer:
    """Answer the Nth request with the Nth body (the last one again after that)."""
    count = 0

    async def answer(request: Request) -> Response:
        nonlocal count
        index = min(count, len(bodies) - 1)
        count += 1
        extra = headers[index] if headers else {}
        return Response(_json(bodies[index]), media_type="application/json", headers=extra)

    return answer


def _json(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()


def gzip_bomb(inflated_bytes: int) -> bytes:
    """A gzip body of zeros in JSON whitespace: tiny on the wire, `inflated_bytes` inflated."""
    return gzip.compress(b'{"data": [' + b" " * inflated_bytes + b"]}", compresslevel=9)


def gzipped(body: bytes) -> Answer:
    async def answer(request: Request) -> Response:
        return Response(body, media_type="application/json", headers={"Content-Encoding": "gzip"})

    return answer


def trickle(body: bytes, *, every: float) -> Answer:
    """Send the body one byte per `every` seconds: each read is quick, the whole is not."""

    async def answer(request: Request) -> Response:
        async def drip() -> AsyncIterator[bytes]:
            for byte in body:
                yield bytes([byte])
                await asyncio.sleep(every)

        return StreamingResponse(drip(), media_type="application/json")

    return answer


def listing(records: list[dict[str, Any]], *, inclusive: bool = True) -> Answer:
    """One page of `records` updated since `updated_since` (`>=`, or `>` when not inclusive);
    the list may change between requests, as a live API's does."""

    async def answer(request: Request) -> Response:
        since = request.query_params.get("updated_since")
        rows = records
        if since:
            bound = datetime.fromisoformat(since)

            def after(row: dict[str, Any]) -> bool:
                stamp = datetime.fromisoformat(row["updated_at"])
                return stamp >= bound if inclusive else stamp > bound

            rows = [row for row in records if after(row)]
        return JSONResponse({"data": rows, "next_cursor": None})

    return answer


def paged(records: list[dict[str, Any]]) -> Answer:
    """Cursor pages of `records` (`cursor` is the offset, `limit` the size), since `updated_since`."""

    async def answer(request: Request) -> Response:
        since = request.query_params.get("updated_since")
        rows = records
        if since:
            bound = datetime.fromisoformat(since)
            rows = [r for r in records if datetime.fromisoformat(r["updated_at"]) >= bound]
        start, size = int(request.query_params.get("cursor", 0)), int(request.query_params["limit"])
        following = str(start + size) if start + size < len(rows) else None
        return JSONResponse({"data": rows[start : start + size], "next_cursor": following})

    return answer
