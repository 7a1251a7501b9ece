"""The strawberry ASGI app bound to GridHub: builds each request's context, answers in orjson."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import SchemaExtension
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from hub.audit.trail import AuditTrail
from hub.auth.backend import AuthenticationError, Authenticator
from hub.auth.caller import Caller
from hub.auth.resource import RequireBearerToken
from hub.clock import local_today
from hub.config import Settings
from hub.request_headers import request_id_of, request_purpose
from hub.storage.counts import CountCache
from hub.storage.session import RequestDatabase
from schema.build import SUBGRAPHS, UNIFIED, build_schema
from schema.context import Context, RequestInfo
from schema.extensions.audit import AuditExtension


class HubGraphQL(GraphQL[Context, None]):
    """One GraphQL endpoint (the unified schema or a subgraph) over the hub's database.

    Websockets speak graphql-transport-ws only; a connection whose handshake was not
    authenticated (`RequireBearerToken`) must authenticate its `connection_init` payload
    here, through the same seam, or it is closed (4403) before any operation runs.
    """

    def __init__(
        self,
        schema: BaseSchema,
        *,
        settings: Settings,
        engine: AsyncEngine,
        endpoint: str,
        authenticator: Authenticator,
        connectors: Any = None,
        ide_html: str | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.settings = settings
        self.engine = engine
        self.endpoint = endpoint
        self.authenticator = authenticator
        self.counts = CountCache(settings.count_cache_seconds)
        self.connectors = connectors
        self.ide_html = ide_html

    async def render_graphql_ide(self, request: Request) -> Response:
        """The hub's own GraphiQL page (vendored assets, no CDN) when given one."""
        if self.ide_html is None:
            return await super().render_graphql_ide(request)
        return HTMLResponse(self.ide_html, headers={"Cache-Control": "no-store"})

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
            counts=self.counts,
            connectors=self.connectors,
        )

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
        return await super().on_ws_connect(context)

    def encode_json(self, data: Any) -> bytes:
        return orjson.dumps(data)


def graphql_routes(
    settings: Settings,
    engine: AsyncEngine,
    *,
    authenticator: Authenticator,
    trail: AuditTrail | None,
    connectors: Any = None,
    ide_html: str | None = None,
) -> GraphQLArea:
    """`/graphql` (the unified schema) and one route per federation subgraph; `unified` is
    the `/graphql` app itself, which the consoles call in process."""
    production = not settings.is_dev

    def endpoint(name: str) -> ASGIApp:
        endpoint_name = "graphql" if name == UNIFIED else f"subgraphs/{name}"
        extensions = [_audit_extension(trail)] if trail is not None else []
        schema = build_schema(name, production=production, extensions=extensions)
        app = HubGraphQL(
            schema,
            settings=settings,
            engine=engine,
            endpoint=endpoint_name,
            authenticator=authenticator,
            connectors=connectors,
            ide_html=ide_html if name == UNIFIED else None,
        )
        return RequireBearerToken(
            app,
            authenticator=authenticator,
            on_refused=trail.record_unauthenticated if trail is not None else None,
            endpoint=endpoint_name,
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
