"""The consoles: pages for people (Jinja2 on starlette), each a client of the hub's own GraphQL.

`console_routes(...)` returns the area's routes: the landing page `/`, sign-in (`/login`,
`/logout`, and `/login/outside/<name>` for trusted outside providers), `/static` (the hub's own assets, GraphiQL's included), the SDL files and the
docs, and `/console/…` mounted with its own session + CSRF middleware
(`middleware.ConsoleSessions`) — `/graphql` never passes through it.
"""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from hub.auth.oauth.routes import OAuthEndpoints
from hub.auth.runtime import AuthRuntime
from hub.auth.sessions import SessionLifetime
from hub.consoles.admin import AdminConsole
from hub.consoles.audit import AuditConsole
from hub.consoles.counter import Counter
from hub.consoles.graphql import ConsoleGraphQL
from hub.consoles.grid import GridConsole
from hub.consoles.landing import Landing
from hub.consoles.middleware import ConsoleSessions
from hub.consoles.outside import OUTSIDE_PREFIX, OutsideSignIn
from hub.consoles.signin import SignIn
from hub.consoles.templating import STATIC


def console_routes(
    runtime: AuthRuntime,
    endpoints: OAuthEndpoints,
    *,
    graphql_app: ASGIApp,
    sdl_dir: Path | None = None,
) -> list[BaseRoute]:
    outside = OutsideSignIn(runtime)
    signin = SignIn(runtime, endpoints, outside.buttons(), outside.paths())
    landing = Landing(runtime.settings, signin, sdl_dir)
    graphql = ConsoleGraphQL(graphql_app)
    counter, grid = Counter(graphql), GridConsole(graphql)
    audit, admin = AuditConsole(graphql), AdminConsole(graphql)
    sessions = Middleware(
        ConsoleSessions,
        sessionmaker=runtime.sessionmaker,
        policy=runtime.policy,
        lifetime=SessionLifetime.of(runtime.settings),
    )
    console = [
        Route("/", landing.home, methods=["GET"]),
        Route("/signin", signin.start, methods=["GET"]),
        Route("/callback", signin.callback, methods=["GET"]),
        Route("/token", landing.token, methods=["GET"]),
        Route("/counter", counter.page, methods=["GET"]),
        Route("/counter", counter.lookup, methods=["POST"]),
        Route("/grid", grid.page, methods=["GET"]),
        Route("/audit", audit.page, methods=["GET"]),
        Route("/audit/export.csv", audit.export, methods=["GET"]),
        Route("/admin", admin.page, methods=["GET"]),
        Route("/admin/retry", admin.retry, methods=["POST"]),
    ]
    return [
        Route("/", landing.page, methods=["GET"]),
        Route("/login", signin.login_page, methods=["GET"]),
        Route("/login", signin.login, methods=["POST"]),
        Route(OUTSIDE_PREFIX + "/{name}", outside.start, methods=["GET"]),
        Route(OUTSIDE_PREFIX + "/{name}/callback", outside.callback, methods=["GET"]),
        Route("/logout", signin.logout_page, methods=["GET"]),
        Route("/logout", signin.logout, methods=["POST"]),
        Route("/lang/{code}", landing.language, methods=["GET"]),
        Route("/sdl/{name}", landing.sdl, methods=["GET"]),
        Route("/docs", landing.docs, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Mount("/console", routes=console, middleware=[sessions]),
    ]
