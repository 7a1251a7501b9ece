"""The ASGI application, composed from per-area route lists (each area may bring middleware).

Areas: GraphQL (unified schema and subgraphs), OAuth, health, metrics, and the consoles
(mounted with their own session + CSRF middleware, off the `/graphql` hot path).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path

from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.middleware import Middleware

import schema
from connectors.config import load_config
from connectors.errors import ConnectorError
from hub.audit.key import AuditKeyError
from hub.audit.trail import AuditTrail
from hub.auth.backend import Authenticator
from hub.auth.caller import GridPaths
from hub.auth.issuers import check_roles
from hub.auth.keys import KeyStoreError
from hub.auth.oauth.routes import OAuthEndpoints, oauth_routes
from hub.auth.policy import load_policy
from hub.auth.runtime import AuthRuntime
from hub.config import Settings
from hub.consoles import console_routes
from hub.consoles.graphiql import graphiql_page
from hub.crypto.master import FieldKeyError
from hub.crypto.store import attach_field_keys
from hub.governance.events import EventBus
from hub.graphql_app import graphql_routes, refusal_recorder
from hub.health import health_routes
from hub.limits.asgi import LimitsMiddleware
from hub.limits.runtime import LimitsRuntime
from hub.metrics import Metrics, MetricsMiddleware
from hub.storage import migrations
from hub.storage.session import create_engine
from hub.sync import SyncScheduler

# What create_app raises for a configuration it cannot run with; each message is one line.
STARTUP_ERRORS: tuple[type[Exception], ...] = (
    ValueError,  # settings, policy, trusted issuers
    KeyStoreError,
    AuditKeyError,
    FieldKeyError,
    ConnectorError,
)


def tune_garbage_collector(settings: Settings) -> None:
    """Keep the collector's pauses off the event loop's critical path under load.

    What exists at start-up (schemas, models, settings) lives as long as the process:
    `freeze` (HUB_GC_FREEZE) keeps it out of every later full collection, which would
    otherwise walk it each time. Requests build many short-lived objects; reference counting
    frees most of them, so the young generation may grow much larger before a collection
    (HUB_GC_THRESHOLD, 700 → 50,000) and the full collections come less often: under load,
    collections of 100-250 ms stalled /healthz behind them. The cost is memory: garbage in
    cycles lives until the next collection (README "Performance" has the measurements).
    """
    gc.collect()
    if settings.gc_freeze:
        gc.freeze()
    gc.set_threshold(settings.gc_threshold, 20, 20)


SDL_DIR = Path(schema.__file__).parent / "sdl"


def create_app(settings: Settings, *, password_hasher: PasswordHasher | None = None) -> Starlette:
    """Build the hub; the database engine lives as long as the app.

    Missing production keys or a broken policy fail here, at start-up, naming the fix.
    """
    policy = load_policy(settings.policy)
    check_roles(settings.trusted_issuers, policy.roles)  # before any key is made or read
    engine = create_engine(
        settings.database_url, echo=settings.sql_echo, pool_size=settings.db_pool_size
    )
    fields = attach_field_keys(engine, settings)  # prod without HUB_FIELD_KEY stops here
    auth = AuthRuntime.create(settings, engine, policy, password_hasher=password_hasher)
    authenticator = Authenticator(auth.verifier, policy, GridPaths(engine))
    metrics = Metrics()
    trail = AuditTrail.create(settings, engine) if settings.audit_enabled else None
    # Limits state (cost buckets, harvest counts) has a pool of its own: it never waits for,
    # or takes, a request's connection.
    limits_engine = create_engine(settings.database_url, echo=settings.sql_echo)
    limits = LimitsRuntime.create(settings, limits_engine, policy)
    if trail is not None:
        limits.alerts = trail.writer.append
    # Reads the connectors TOML once: a bad file fails start-up, naming the problem.
    scheduler = SyncScheduler(settings, engine) if settings.connectors else None
    events = EventBus(engine, sweep_seconds=settings.overdue_sweep_seconds)
    connectors = load_config(settings.connectors) if settings.connectors else None
    endpoints = OAuthEndpoints(auth)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if scheduler is not None:
            scheduler.start()
        tune_garbage_collector(settings)
        yield
        if scheduler is not None:
            await scheduler.stop()
        await events.stop()
        if trail is not None:
            await trail.writer.stop()
        await limits.close()
        await auth.close()
        await engine.dispose()

    graphql = graphql_routes(
        settings, engine, authenticator=authenticator, trail=trail, limits=limits,
        events=events, connectors=connectors,
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
    if settings.limits_enabled:
        middleware.append(
            Middleware(
                LimitsMiddleware,
                limits=limits.http,
                proxies=limits.proxies,
                admission=limits.admission,
                on_refused=refusal_recorder(trail),
            )
        )
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.settings = settings
    app.state.engine = engine
    app.state.fields = fields
    app.state.auth = auth
    app.state.audit = trail
    app.state.events = events
    app.state.limits = limits
    return app
