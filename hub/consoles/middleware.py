"""The consoles' own middleware: a signed-in session and a CSRF check on every form.

Mounted on `/console` only, so `/graphql` never passes through it. For each request it finds
the live console session of the `hub_console` cookie (idle and absolute expiry checked,
`hub/auth/sessions.py`); without one — or when the session's access token is about to
expire — the browser goes to `/console/signin` (the authorization code flow, which needs
no password while the person's login session lives) and comes back to the page. A POST must be
a urlencoded form carrying the session's CSRF token (and, when the browser sends `Origin`,
come from the hub's own origin): otherwise 403 and nothing happens. The page handlers find
`ConsoleContext` in `request.state.console` and the parsed form in `request.state.form`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.auth.oauth.codes import Person
from hub.auth.policy import Policy
from hub.auth.sessions import CONSOLE, CONSOLE_COOKIE, SessionLifetime, resume_session
from hub.consoles.forms import (
    CSRF_FIELD,
    MAX_FORM_BYTES,
    FormError,
    csrf_matches,
    parse_form,
    same_origin,
)
from hub.consoles.i18n import language, translate
from hub.storage.base import utcnow

SIGNIN_PATH = "/console/signin"
PUBLIC_PATHS = frozenset({SIGNIN_PATH, "/console/callback"})
TOKEN_MARGIN = timedelta(seconds=30)  # a token this close to its end is replaced first


@dataclass(frozen=True)
class ConsoleContext:
    """Who is at the console, what their token may do, and the session's CSRF token."""

    person: Person
    scopes: frozenset[str]
    csrf_token: str
    access_token: str
    session_id: str


class ConsoleSessions:
    def __init__(
        self,
        app: ASGIApp,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        policy: Policy,
        lifetime: SessionLifetime,
    ) -> None:
        self.app = app
        self.sessionmaker = sessionmaker
        self.policy = policy
        self.lifetime = lifetime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        context = await self._context(request)
        if context is None:
            await _sign_in_again(request)(scope, receive, send)
            return
        scope.setdefault("state", {})["console"] = context
        if scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_capped(request)
            form = parse_form(body, request.headers.get("content-type", ""))
        except FormError as error:
            await PlainTextResponse(str(error), 400)(scope, receive, send)
            return
        origin_ok = same_origin(request.headers.get("origin"), str(request.base_url))
        if not origin_ok or not csrf_matches(context.csrf_token, form.get(CSRF_FIELD)):
            text = translate("csrf.failed", language(request))
            await PlainTextResponse(text, 403, headers={"Cache-Control": "no-store"})(
                scope, receive, send
            )
            return
        scope["state"]["form"] = form
        await self.app(scope, _replay(body), send)

    async def _context(self, request: Request) -> ConsoleContext | None:
        async with self.sessionmaker() as session, session.begin():
            found = await resume_session(
                session,
                cookie_value=request.cookies.get(CONSOLE_COOKIE),
                kind=CONSOLE,
                lifetime=self.lifetime,
            )
        if found is None:
            return None
        row, user = found
        expires = row.token_expires_at
        if row.access_token is None or expires is None or expires - TOKEN_MARGIN <= utcnow():
            return None
        role = self.policy.roles.get(user.role)
        return ConsoleContext(
            person=Person.of(user),
            scopes=role.scopes if role else frozenset(),
            csrf_token=row.csrf_token,
            access_token=row.access_token,
            session_id=row.id,
        )


def _sign_in_again(request: Request) -> Response:
    """Through sign-in and back: to the same page (a form is not replayed: it is sent again)."""
    query = request.url.query if request.method in ("GET", "HEAD") else ""
    target = request.url.path + (f"?{query}" if query else "")
    return RedirectResponse(f"{SIGNIN_PATH}?next={quote(target, safe='')}", 303)


async def _read_capped(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormError("form too large")
    return bytes(body)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
