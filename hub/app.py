"""The ASGI application: GraphQL (unified and subgraphs), OAuth endpoints, health, metrics."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from argon2 import PasswordHasher
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from hub.audit.trail import AuditTrail
from hub.auth.caller import GridPaths
from hub.auth.oauth.routes import oauth_routes
from hub.auth.policy import load_policy
from hub.auth.resource import RequireBearerToken
from hub.auth.runtime import AuthRuntime
from hub.config import Settings
from hub.graphql_app import HubGraphQL
from hub.metrics import Metrics, MetricsMiddleware
from hub.storage import migrations
from hub.storage.session import create_engine
from hub.sync import SyncScheduler
from schema.build import SUBGRAPHS, build_schema

logger = logging.getLogger("gridhub.app")


def create_app(settings: Settings, *, password_hasher: PasswordHasher | None = None) -> Starlette:
    """Build the hub; the database engine lives as long as the app.

    Missing production keys or a broken policy fail here, at start-up, naming the fix.
    """
    engine = create_engine(settings.database_url, echo=settings.sql_echo)
    production = not settings.is_dev
    head = migrations.head_revision(settings.database_url)
    policy = load_policy(settings.policy)
    auth = AuthRuntime.create(settings, engine, policy, password_hasher=password_hasher)
    grid_paths = GridPaths(engine)
    metrics = Metrics()
    trail = AuditTrail.create(settings, engine) if settings.audit_enabled else None
    # Reads the connectors TOML once: a bad file fails start-up, naming the problem.
    scheduler = SyncScheduler(settings, engine) if settings.connectors else None

    def graphql(name: str) -> ASGIApp:
        endpoint_name = "graphql" if name == "unified" else f"subgraphs/{name}"
        extensions = [trail.extension] if trail is not None else []
        schema = build_schema(name, production=production, extensions=extensions)
        endpoint = HubGraphQL(schema, settings=settings, engine=engine, endpoint=endpoint_name)
        return RequireBearerToken(
            endpoint,
            verifier=auth.verifier,
            policy=policy,
            grid_paths=grid_paths,
            on_refused=trail.record_unauthenticated if trail is not None else None,
            endpoint=endpoint_name,
        )

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        """Ready when the database answers and its schema is at the code's migration head."""
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            current = await migrations.current_revision(engine)
        except Exception:  # any failure to reach the database means "not ready"
            logger.exception("readiness check: the database cannot be reached")
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        if current != head:
            body = {"status": "migrations pending", "current": current, "head": head}
            return JSONResponse(body, 503)
        return JSONResponse({"status": "ready", "revision": current})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if scheduler is not None:
            scheduler.start()
        yield
        if scheduler is not None:
            await scheduler.stop()
        if trail is not None:
            await trail.writer.stop()
        await engine.dispose()

    unified = graphql("unified")
    routes = [
        Route("/graphql", unified, methods=["GET", "POST"]),
        *(
            Route(f"/subgraphs/{name}/graphql", graphql(name), methods=["GET", "POST"])
            for name in SUBGRAPHS
        ),
        *oauth_routes(auth),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics.endpoint),
    ]
    middleware = [Middleware(MetricsMiddleware, metrics=metrics)]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.settings = settings
    app.state.engine = engine
    app.state.auth = auth
    app.state.audit = trail
    return app
