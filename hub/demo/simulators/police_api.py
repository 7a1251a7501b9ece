"""The public security bureau's API (公安): an API key header and numbered pages.

Every request but `/_faults` needs `X-API-Key`. Data endpoints, ordered by (updated_at, id):

    GET /api/{households|residence-permits|person-flags}
        ?page=1 &page_size=100 (1–1000) &updated_since=ISO8601 (inclusive)
    → {"items": [...], "page": 1, "page_size": 100, "total": N, "total_pages": M}

Field names are the pinyin abbreviations police systems use (sfzh 身份证号, xm 姓名, xb 性别,
csrq 出生日期, ...; see `raw`). A page past the last one is empty. Faults: see `faults`.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.demo.simulators.faults import Faults, fault_routes, serve_with_faults
from hub.demo.simulators.paging import BadParameterError, offset_page, parse_instant
from hub.demo.simulators.world import POLICE_STREAMS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from hub.demo.simulators.world import DepartmentWorld

API_KEY_HEADER = "X-API-Key"
MAX_PAGE_SIZE = 1000


def _positive(request: Request, name: str, default: int, maximum: int) -> int:
    text = request.query_params.get(name, str(default))
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= maximum:
        raise BadParameterError(f"{name} must be an integer from 1 to {maximum}")
    return int(text)


def _page(world: DepartmentWorld, faults: Faults, stream: str, request: Request) -> Response:
    params = request.query_params
    try:
        since = parse_instant(params["updated_since"]) if "updated_since" in params else None
        page = _positive(request, "page", 1, 10**9)
        size = _positive(request, "page_size", 100, MAX_PAGE_SIZE)
    except BadParameterError as error:
        return JSONResponse({"code": 400, "msg": str(error)}, status_code=400)
    items, total = offset_page(
        world.streams[stream], since=since, page=page, page_size=size, overlap=faults.overlap
    )
    pages = -(-total // size)
    body = {"items": items, "page": page, "page_size": size, "total": total, "total_pages": pages}
    return JSONResponse(body)


def create_police_app(
    world: DepartmentWorld, *, api_key: str, faults: Faults | None = None
) -> Starlette:
    """The police API over `world`; `faults` (shared with the caller) switches misbehaviour."""
    faults = faults if faults is not None else Faults()

    def endpoint(stream: str) -> Callable[[Request], Awaitable[Response]]:
        async def read(request: Request) -> Response:
            given = request.headers.get(API_KEY_HEADER, "")
            if not secrets.compare_digest(given.encode(), api_key.encode()):
                return JSONResponse({"code": 401, "msg": "API key missing or wrong"}, 401)
            return await serve_with_faults(
                faults, world, stream, lambda: _page(world, faults, stream, request)
            )

        return read

    routes = [Route(f"/api/{name}", endpoint(name), methods=["GET"]) for name in POLICE_STREAMS]
    app = Starlette(routes=[*routes, *fault_routes(faults, world)])
    app.state.faults = faults
    return app
