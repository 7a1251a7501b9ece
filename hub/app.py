"""The ASGI application, composed from per-area route lists (each area may bring middleware).

Areas: GraphQL (unified schema and subgraphs), OAuth, health, metrics, and the consoles
(mounted with their own session + CSRF middleware, off the `/graphql` hot path).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.middleware import Middleware

import schema
from connectors.config import load_config
from hub.audit.trail import AuditTrail
from hub.auth.backend import Authenticator
from hub.auth.caller import GridPaths
from hub.auth.oauth.routes import OAuthEndpoints, oauth_routes
from hub.auth.policy import load_policy
from hub.auth.runtime import AuthRuntime
from hub.config import Settings
from hub.consoles import console_routes
from hub.consoles.graphiql import graphiql_page
from hub.graphql_app import graphql_routes
from hub.health import health_routes
from hub.metrics import Metrics, MetricsMiddleware
from hub.storage import migrations
from hub.storage.session import create_engine
from hub.sync import SyncScheduler

SDL_DIR = Path(schema.__file__).parent / "sdl"


def create_app(settings: Settings, *, password_hasher: PasswordHasher | None = None) -> Starlette:
    """Build the hub; the database engine lives as long as the app.

    Missing production keys or a broken policy fail here, at start-up, naming the fix.
    """
    engine = create_engine(settings.database_url, echo=settings.sql_echo)
    policy = load_policy(settings.policy)
    auth = AuthRuntime.create(settings, engine, policy, password_hasher=password_hasher)
    authenticator = Authenticator(auth.verifier, policy, GridPaths(engine))
    metrics = Metrics()
    trail = AuditTrail.create(settings, engine) if settings.audit_enabled else None
    # Reads the connectors TOML once: a bad file fails start-up, naming the problem.
    scheduler = SyncScheduler(settings, engine) if settings.connectors else None
    connectors = load_config(settings.connectors) if settings.connectors else None
    endpoints = OAuthEndpoints(auth)

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

    graphql = graphql_routes(
        settings, engine, authenticator=authenticator, trail=trail, connectors=connectors,
        ide_html=graphiql_page(settings) if settings.graphiql else None,
    )  # fmt: skip
    routes = [
        *graphql.routes,
        *oauth_routes(auth, endpoints),
        *console_routes(auth, endpoints, graphql_app=graphql.unified, sdl_dir=SDL_DIR),
        *health_routes(engine, head=migrations.head_revision(settings.database_url)),
        *metrics.routes(),
    ]
    middleware = [Middleware(MetricsMiddleware, metrics=metrics)]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.settings = settings
    app.state.engine = engine
    app.state.auth = auth
    app.state.audit = trail
    return app
