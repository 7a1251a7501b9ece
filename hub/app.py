"""The ASGI application: GraphQL (unified and subgraphs), health checks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.config import Settings
from hub.graphql_app import HubGraphQL
from hub.storage import migrations
from hub.storage.session import create_engine
from schema.build import SUBGRAPHS, build_schema


def create_app(settings: Settings) -> Starlette:
    """Build the hub; the database engine lives as long as the app."""
    engine = create_engine(settings.database_url, echo=settings.sql_echo)
    production = not settings.is_dev
    head = migrations.head_revision(settings.database_url)

    def graphql(name: str) -> HubGraphQL:
        schema = build_schema(name, production=production)
        return HubGraphQL(schema, settings=settings, engine=engine)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        """Ready when the database answers and its schema is at the code's migration head."""
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            current = await migrations.current_revision(engine)
        except Exception as error:  # any failure to reach the database means "not ready"
            return JSONResponse({"status": "unavailable", "database": str(error)}, 503)
        if current != head:
            body = {"status": "migrations pending", "current": current, "head": head}
            return JSONResponse(body, 503)
        return JSONResponse({"status": "ready", "revision": current})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    unified = graphql("unified")
    routes = [
        Route("/graphql", unified, methods=["GET", "POST"]),
        *(
            Route(f"/subgraphs/{name}/graphql", graphql(name), methods=["GET", "POST"])
            for name in SUBGRAPHS
        ),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    return app
