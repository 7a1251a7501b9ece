"""The health commission's API (卫健委): OAuth 2.0 client credentials, cursor pagination.

`POST /oauth/token` (RFC 6749 §4.4; client_secret_basic or client_secret_post) issues opaque
bearer tokens that live `token_ttl` seconds. Data endpoints, ordered by (updated_at, id):

    GET /api/v1/{family-doctor-contracts|vaccinations|chronic-diseases}
        ?limit=N (1–1000, default 100) &cursor=C &updated_since=ISO8601 (inclusive)
    → {"data": [...], "next_cursor": "..." | null}

A missing, unknown or expired token gets 401 with `WWW-Authenticate: Bearer
error="invalid_token"` (RFC 6750 §3.1). Faults: see `faults`.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.demo.simulators.faults import Faults, fault_routes, serve_with_faults
from hub.demo.simulators.paging import (
    BadParameterError,
    decode_cursor,
    encode_cursor,
    keyset_page,
    parse_instant,
)
from hub.demo.simulators.world import HEALTH_STREAMS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from hub.demo.simulators.world import DepartmentWorld

DEFAULT_TOKEN_TTL = 300
MAX_LIMIT = 1000


class TokenIssuer:
    """Opaque tokens for the one registered client, each with its own expiry."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.ttl = ttl
        self.clock = clock
        self._expiry: dict[str, float] = {}

    def authenticate(self, client_id: str, client_secret: str) -> bool:
        id_ok = secrets.compare_digest(client_id.encode(), self.client_id.encode())
        secret_ok = secrets.compare_digest(client_secret.encode(), self.client_secret.encode())
        return id_ok and secret_ok

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        self._expiry[token] = self.clock() + self.ttl
        return token

    def valid(self, token: str) -> bool:
        return self._expiry.get(token, float("-inf")) > self.clock()

    def expire_all(self) -> None:
        self._expiry.clear()


def _oauth_error(error: str, status: int = 400) -> JSONResponse:
    # RFC 6749 §5.2: a failed client authentication over Basic answers 401 with a challenge.
    headers = {"WWW-Authenticate": 'Basic realm="health"'} if status == 401 else None
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


def token_endpoint(issuer: TokenIssuer) -> Callable[[Request], Awaitable[Response]]:
    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type")
        credentials = _basic_credentials(request) or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        if not issuer.authenticate(*credentials):
            return _oauth_error("invalid_client", 401)
        body = {"access_token": issuer.issue(), "token_type": "Bearer"}
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1
        return JSONResponse(body | {"expires_in": math.ceil(issuer.ttl)}, headers=headers)

    return token


def _unauthorized() -> JSONResponse:
    challenge = 'Bearer realm="health", error="invalid_token"'
    return JSONResponse(
        {"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": challenge}
    )


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _limit(request: Request) -> int:
    text = request.query_params.get("limit", "100")
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadParameterError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(text)


def _page(world: DepartmentWorld, faults: Faults, stream: str, request: Request) -> Response:
    params = request.query_params
    try:
        since = parse_instant(params["updated_since"]) if "updated_since" in params else None
        after = decode_cursor(params["cursor"]) if params.get("cursor") else None
        limit = _limit(request)
    except BadParameterError as error:
        return JSONResponse({"error": "invalid_request", "detail": str(error)}, status_code=400)
    records, next_key = keyset_page(
        world.streams[stream], after=after, since=since, limit=limit, overlap=faults.overlap
    )
    cursor = None if next_key is None else encode_cursor(next_key)
    return JSONResponse({"data": records, "next_cursor": cursor})


def create_health_app(
    world: DepartmentWorld,
    *,
    client_id: str,
    client_secret: str,
    faults: Faults | None = None,
    token_ttl: float = DEFAULT_TOKEN_TTL,
) -> Starlette:
    """The health API over `world`; `faults` (shared with the caller) switches misbehaviour."""
    faults = faults if faults is not None else Faults()
    issuer = TokenIssuer(client_id, client_secret, ttl=token_ttl)

    def endpoint(stream: str) -> Callable[[Request], Awaitable[Response]]:
        async def read(request: Request) -> Response:
            if not issuer.valid(_bearer(request)):
                return _unauthorized()
            return await serve_with_faults(
                faults, world, stream, lambda: _page(world, faults, stream, request)
            )

        return read

    routes = [Route("/oauth/token", token_endpoint(issuer), methods=["POST"])]
    routes += [Route(f"/api/v1/{name}", endpoint(name), methods=["GET"]) for name in HEALTH_STREAMS]
    routes += fault_routes(faults, world, expire_tokens=issuer.expire_all)
    app = Starlette(routes=routes)
    app.state.faults = faults
    app.state.tokens = issuer
    return app
