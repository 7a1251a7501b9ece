"""The strawberry ASGI app bound to GridHub: builds each request's context, answers in orjson."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from hub.clock import local_today
from hub.config import Settings
from hub.request_headers import request_id_of, request_purpose
from schema.context import Caller, Context, RequestDatabase, RequestInfo


class HubGraphQL(GraphQL[Context, None]):
    """One GraphQL endpoint (the unified schema or a subgraph) over the hub's database."""

    def __init__(
        self, schema: BaseSchema, *, settings: Settings, engine: AsyncEngine, endpoint: str
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
        )
        self.settings = settings
        self.engine = engine
        self.endpoint = endpoint

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
        )
        return Context(
            database=RequestDatabase(self.engine),
            caller=caller,
            today=local_today(),
            request_purpose=request_purpose(request.headers),
            request=info,
            max_page_size=self.settings.max_page_size,
        )

    def encode_json(self, data: Any) -> bytes:
        return orjson.dumps(data)
