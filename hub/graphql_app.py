"""The strawberry ASGI app bound to GridHub: builds each request's context, answers in orjson.

Each GraphQL endpoint is, from the outside in: `RequireBearerToken` (authentication, and
the per-address limit for requests without a valid token), `GraphQLRequestReader` (the
HTTP limits: size, content type, JSON shape), then `HubGraphQL`, which takes the checked
request from there, runs it under the execution timeout, and answers per the
GraphQL-over-HTTP spec (`application/graphql-response+json` when the client accepts it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UNSET, UnsetType

from hub.audit.records import Outcome
from hub.audit.trail import AuditTrail
from hub.auth.backend import AuthenticationError, Authenticator
from hub.auth.caller import Caller
from hub.auth.resource import RequireBearerToken
from hub.clock import local_today
from hub.config import Settings
from hub.crypto.store import field_keys
from hub.errors import ErrorCode
from hub.governance.events import EventBus
from hub.limits.asgi import GraphQLRequestReader, OnRefused, send_refusal
from hub.limits.refusals import Refusal, bad_request
from hub.limits.requests import GRAPHQL_RESPONSE_JSON, GraphQLRequest, wants_graphql_response_json
from hub.limits.runtime import LimitsRuntime
from hub.request_headers import purpose_in_params, request_id_of, request_purpose
from hub.storage.base import utcnow
from hub.storage.counts import CountCache
from hub.storage.session import RequestDatabase
from schema.build import SUBGRAPHS, UNIFIED, build_schema
from schema.context import Context, RequestInfo
from schema.errors import TIMEOUT
from schema.extensions.audit import AuditExtension
from schema.rules.limits import DocumentLimits


class _RequestAdapter(StarletteRequestAdapter):
    @property
    def checked(self) -> GraphQLRequest | None:
        """The request as GraphQLRequestReader read and checked it."""
        checked: GraphQLRequest | None = self._request.scope.get("state", {}).get("graphql_request")
        return checked


MAX_OPERATIONS_PER_SOCKET = 32
"""Operations (subscriptions included) one websocket may run at once."""

_WATCHES: set[asyncio.Task[None]] = set()  # keeps the watch tasks referenced while they run


def _open(websocket: WebSocket) -> bool:
    connected = WebSocketState.CONNECTED
    return websocket.client_state is connected and websocket.application_state is connected


class HubGraphQL(GraphQL[Context, None]):
    """One GraphQL endpoint (the unified schema or a subgraph) over the hub's database.

    Websockets speak graphql-transport-ws only; a connection whose handshake was not
    authenticated (`RequireBearerToken`) must authenticate its `connection_init` payload
    here, through the same seam, or it is closed (4403) before any operation runs. Once
    acknowledged, the connection is watched: it is closed (4403) when its token expires or
    is revoked, ending its subscriptions. The payload may carry X-Request-Purpose (and -User,
    -Case) as browsers cannot set handshake headers.
    """

    max_subscriptions_per_connection = MAX_OPERATIONS_PER_SOCKET

    def __init__(
        self,
        schema: BaseSchema,
        *,
        settings: Settings,
        engine: AsyncEngine,
        endpoint: str,
        authenticator: Authenticator,
        limits: LimitsRuntime,
        events: EventBus | None = None,
        connectors: Any = None,
        ide_html: str | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,  # GraphQLRequestReader refuses them unless allowed
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.settings = settings
        self.engine = engine
        self.endpoint = endpoint
        self.authenticator = authenticator
        self.events = events
        self.limits = limits
        self.counts = CountCache(settings.count_cache_seconds)
        self.connectors = connectors
        self.ide_html = ide_html

    async def render_graphql_ide(self, request: Request) -> Response:
        """The hub's own GraphiQL page (vendored assets, no CDN) when given one."""
        if self.ide_html is None:
            return await super().render_graphql_ide(request)
        return HTMLResponse(self.ide_html, headers={"Cache-Control": "no-store"})

    request_adapter_class = _RequestAdapter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except Refusal as refusal:  # raised while running (a GET mutation)
            await send_refusal(refusal, scope, send)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        caller = request.scope.get("state", {}).get("caller") or Caller()
        request_id = request_id_of(request.headers)
        if isinstance(response, Response):
            response.headers["X-Request-Id"] = request_id
        info = RequestInfo(
            request_id=request_id,
            endpoint=self.endpoint,
            client_address=request.client.host if request.client else None,
            response=response if isinstance(response, Response) else None,
            connection=request,
        )
        return Context(
            database=RequestDatabase(self.engine),
            caller=caller,
            today=local_today(),
            request_purpose=request_purpose(request.headers),
            request=info,
            max_page_size=self.settings.max_page_size,
            limits=self.limits.for_caller(caller),
            counts=self.counts,
            events=self.events,
            fields=await field_keys(self.engine).ring(),
            connectors=self.connectors,
        )

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request GraphQLRequestReader has read and checked (it never batches)."""
        checked = request.checked if isinstance(request, _RequestAdapter) else None
        if checked is None:
            return await super().parse_http_body(request)
        return _request_data(checked)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Runs under the execution timeout; a timed-out request is cancelled and answered
        with TIMEOUT (the audit extension records it as such)."""
        try:
            context.request.started_ns = time.perf_counter_ns()
            async with asyncio.timeout(self.limits.execution_timeout) as deadline:
                context.request.deadline = deadline
                return await super().execute_single(
                    request, request_adapter, sub_response, context, root_value, request_data
                )
        except TimeoutError:
            if not deadline.expired():
                raise
            return _timed_out(self.limits.execution_timeout)
        except HTTPException as error:
            if isinstance(error.__cause__, InvalidOperationTypeError):
                raise bad_request(
                    "mutations are not run over GET; POST them", status=405, Allow="POST"
                ) from error
            raise bad_request(error.reason) from error

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        processed = await super().process_result(request, result)
        if isinstance(result, PreExecutionError) and _graphql_response_json(request):
            # GraphQL-over-HTTP: a request error has no `data` entry and a 4xx status.
            processed.pop("data", None)
            request.scope.setdefault("state", {})["graphql_request_error"] = True
        return processed

    async def run(  # type: ignore[override]  # one body for both of strawberry's overloads
        self, request: Request | WebSocket, context: Context = UNSET, root_value: None = UNSET
    ) -> Response | WebSocket:
        response: Response | WebSocket
        checked = _RequestAdapter(request).checked if isinstance(request, Request) else None
        if checked is not None and isinstance(request, Request) and request.method == "POST":
            response = await self._run_checked_post(request, checked, context)
        else:
            response = await super().run(request, context, root_value)
        if isinstance(request, Request) and _answers_graphql_response_json(request, response):
            assert isinstance(response, Response)
            response.headers["content-type"] = GRAPHQL_RESPONSE_JSON
            request_error = request.scope.get("state", {}).get("graphql_request_error")
            if request_error and response.status_code == 200:
                response.status_code = 400
        return response

    async def _run_checked_post(
        self, request: Request, checked: GraphQLRequest, context: Context
    ) -> Response:
        """strawberry's `run` for a POST that GraphQLRequestReader has read and checked: the
        same hooks in the same order (sub-response, context, execution, result processing,
        response; the root value is None), without what only other requests need (the IDE
        page, websockets, body parsing, batches, streams): about a twentieth of a lookup's
        CPU."""
        sub_response = await self.get_sub_response(request)
        if context is UNSET:
            context = await self.get_context(request, response=sub_response)
        result = await self.execute_single(
            request, _RequestAdapter(request), sub_response, context, None, _request_data(checked)
        )
        response_data = await self.process_result(request, result)
        if result.errors:
            self._handle_errors(result.errors, response_data)
        return self.create_response(response_data=response_data, sub_response=sub_response)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Acknowledge the connection only for an authenticated caller."""
        connection = context.request.connection
        assert connection is not None
        if "caller" not in connection.scope.get("state", {}):  # not authenticated at handshake
            try:
                context.caller = await self.authenticator.authenticate(
                    connection, connection_params=context.connection_params or {}
                )
            except AuthenticationError as error:
                raise ConnectionRejectionError({"reason": error.description}) from error
        params = context.connection_params or {}
        context.request_purpose = purpose_in_params(params, context.request_purpose)
        assert isinstance(connection, WebSocket)
        watch = asyncio.create_task(self._watch(connection, context.caller))
        _WATCHES.add(watch)
        watch.add_done_callback(_WATCHES.discard)
        return await super().on_ws_connect(context)

    async def _watch(self, websocket: WebSocket, caller: Caller) -> None:
        """Close the socket (4403) once the caller's token expires or is revoked."""
        interval = self.settings.websocket_token_check_seconds
        while _open(websocket):
            try:
                reason = await self.authenticator.ended(caller)
            except Exception:  # the revocation list could not be read: fail closed
                reason = "token could not be checked again"
            if reason is not None:
                with contextlib.suppress(RuntimeError, OSError):
                    await websocket.close(code=4403, reason=reason)
                return
            left = (caller.expires_at - utcnow()).total_seconds() if caller.expires_at else None
            await asyncio.sleep(max(0.0, min(interval, left if left is not None else interval)))

    def encode_json(self, data: Any) -> bytes:
        return orjson.dumps(data)


def _request_data(checked: GraphQLRequest) -> GraphQLRequestData:
    return GraphQLRequestData(
        query=checked.query,
        variables=checked.variables,
        operation_name=checked.operation_name,
        extensions=checked.extensions,
        protocol="http",
    )


def _timed_out(seconds: float) -> ExecutionResult:
    message = (
        f"the operation ran longer than {seconds:g} s and was cancelled; "
        "ask for less (smaller pages, fewer nested lists)"
    )
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": TIMEOUT})])


def _graphql_response_json(request: Request) -> bool:
    state = request.scope.setdefault("state", {})
    wanted: bool | None = state.get("graphql_response_json")
    if wanted is None:
        wanted = state["graphql_response_json"] = wants_graphql_response_json(
            request.headers.get("accept")
        )
    return wanted


def _answers_graphql_response_json(request: Request, response: Response | WebSocket) -> bool:
    """A JSON answer (not the GraphiQL page) to a client that accepts the GraphQL media type."""
    if not isinstance(response, Response) or not _graphql_response_json(request):
        return False
    return response.headers.get("content-type", "").startswith("application/json")


def document_limits(settings: Settings) -> DocumentLimits:
    return DocumentLimits(
        max_chars=settings.max_document_chars,
        max_tokens=settings.max_tokens,
        max_operations=settings.max_operations,
        max_fragments=settings.max_fragments,
        max_directives=settings.max_directives,
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_fields=settings.max_fields,
    )


def graphql_endpoint_of(path: str) -> str | None:
    """The audit trail's name for a GraphQL path (`graphql`, `subgraphs/health`), else None."""
    if path == "/graphql":
        return "graphql"
    name = path.removeprefix("/subgraphs/").removesuffix("/graphql")
    return (
        f"subgraphs/{name}" if path == f"/subgraphs/{name}/graphql" and name in SUBGRAPHS else None
    )


def refusal_recorder(trail: AuditTrail | None) -> Callable[[str], OnRefused | None]:
    """For LimitsMiddleware: how a refused request to a GraphQL path reaches the audit trail."""

    def for_path(path: str) -> OnRefused | None:
        endpoint = graphql_endpoint_of(path)
        return _recorder(trail, endpoint) if trail is not None and endpoint else None

    return for_path


def _recorder(trail: AuditTrail, endpoint: str) -> OnRefused:
    async def record(request: HTTPConnection, refusal: Refusal) -> None:
        caller = request.scope.get("state", {}).get("caller")
        await trail.record_refusal(
            request,
            endpoint=endpoint,
            outcome=refusal.outcome,
            code=refusal.code.value,
            caller=caller,
        )

    return record


def _limited_recorder(trail: AuditTrail) -> Callable[..., Any]:
    async def record(request: HTTPConnection, *, endpoint: str) -> None:
        await trail.record_refusal(
            request, endpoint=endpoint, outcome=Outcome.LIMITED, code=ErrorCode.RATE_LIMITED
        )

    return record


def graphql_routes(
    settings: Settings,
    engine: AsyncEngine,
    *,
    authenticator: Authenticator,
    trail: AuditTrail | None,
    limits: LimitsRuntime,
    events: EventBus | None = None,
    connectors: Any = None,
    ide_html: str | None = None,
) -> GraphQLArea:
    """`/graphql` (the unified schema) and one route per federation subgraph; `unified` is
    the `/graphql` app itself, which the consoles call in process."""
    production = not settings.is_dev
    bounds = document_limits(settings) if settings.limits_enabled else None

    def endpoint(name: str) -> ASGIApp:
        endpoint_name = "graphql" if name == UNIFIED else f"subgraphs/{name}"
        extensions = [_audit_extension(trail)] if trail is not None else []
        schema = build_schema(name, production=production, extensions=extensions, limits=bounds)
        app = HubGraphQL(
            schema,
            settings=settings,
            engine=engine,
            endpoint=endpoint_name,
            authenticator=authenticator,
            limits=limits,
            events=events,
            connectors=connectors,
            ide_html=ide_html if name == UNIFIED else None,
        )
        if not settings.limits_enabled:  # only to measure what the limits cost
            return RequireBearerToken(
                app,
                authenticator=authenticator,
                on_refused=trail.record_unauthenticated if trail is not None else None,
                endpoint=endpoint_name,
            )
        reader = GraphQLRequestReader(
            app,
            limits=limits.http,
            on_refused=_recorder(trail, endpoint_name) if trail is not None else None,
        )
        return RequireBearerToken(
            reader,
            authenticator=authenticator,
            on_refused=trail.record_unauthenticated if trail is not None else None,
            endpoint=endpoint_name,
            anonymous=limits.anonymous_request,
            on_limited=_limited_recorder(trail) if trail is not None else None,
        )

    unified = endpoint(UNIFIED)
    routes: list[BaseRoute] = [
        Route("/graphql", unified, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", unified),
        *(
            Route(f"/subgraphs/{name}/graphql", endpoint(name), methods=["GET", "POST"])
            for name in SUBGRAPHS
        ),
    ]
    return GraphQLArea(routes=routes, unified=unified)


@dataclass(frozen=True)
class GraphQLArea:
    routes: list[BaseRoute]
    unified: ASGIApp


def _audit_extension(trail: AuditTrail) -> Callable[[], SchemaExtension]:
    return lambda: AuditExtension(writer=trail.writer, redactor=trail.redactor)
