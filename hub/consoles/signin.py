"""Signing people in and out: `/login`, `/logout`, and the consoles' side of the code flow.

`/login` is the authorization server's page (a login session, cookie `hub_login`);
`/console/signin` starts the authorization code flow with PKCE for the console client, and
`/console/callback` exchanges the code at the token endpoint (in process, same code path as
`POST /oauth/token`) and keeps the person's token in a console session (cookie
`hub_console`). Both cookies are HTTP-only and SameSite=Strict (Secure when the issuer is
https). `/logout` ends both sessions and revokes the token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.auth import sessions
from hub.auth.oauth.codes import CALLBACK_PATH, CONSOLE_CLIENT_ID, Person
from hub.auth.oauth.metadata import AUTHORIZATION_PATH
from hub.auth.oauth.routes import OAuthEndpoints
from hub.auth.runtime import AuthRuntime
from hub.auth.sessions import CONSOLE, CONSOLE_COOKIE, LOGIN, LOGIN_COOKIE, SessionLifetime
from hub.auth.tokens import TokenError
from hub.auth.users import LoginRefusal, check_login, get_user
from hub.consoles.forms import CSRF_FIELD, FormError, csrf_matches, parse_form, same_origin
from hub.consoles.templating import render
from hub.storage.models import StaffSession

LOGIN_CSRF_COOKIE = "hub_login_csrf"
PKCE_COOKIE = "hub_pkce"
PKCE_LIFETIME = 600


def safe_next(target: str | None, *, prefixes: tuple[str, ...], default: str) -> str:
    """A local path under one of `prefixes`: never another site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target if target.startswith(prefixes) else default


@dataclass
class SignIn:
    runtime: AuthRuntime
    endpoints: OAuthEndpoints
    outside: list[tuple[str, str]] = field(default_factory=list)  # (path, label) per provider
    outside_paths: dict[str, str] = field(default_factory=dict)  # issuer → its sign-in path

    @property
    def lifetime(self) -> SessionLifetime:
        return SessionLifetime.of(self.runtime.settings)

    def _cookie(self, response: Response, name: str, value: str, **options: Any) -> None:
        secure = self.runtime.settings.issuer.startswith("https://")
        response.set_cookie(
            name, value, httponly=True, samesite=options.pop("samesite", "strict"),
            secure=secure, path=options.pop("path", "/"), **options,
        )  # fmt: skip

    # --- the authorization server's sign-in page ---------------------------------------

    async def login_page(self, request: Request) -> Response:
        return self._login_form(request, error=None)

    def _login_form(self, request: Request, *, error: str | None, status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        request.scope.setdefault("state", {})["csrf_token"] = token
        target = request.query_params.get("next", "")
        response = render(
            request,
            "login.html",
            {"error": error, "next": target, "login_csrf": token, "outside": self.outside},
            status=status,
        )
        self._cookie(response, LOGIN_CSRF_COOKIE, token, path="/login", max_age=3600)
        return response

    async def login(self, request: Request) -> Response:
        try:
            form = parse_form(await request.body(), request.headers.get("content-type", ""))
        except FormError:
            return self._login_form(request, error="csrf.failed", status=400)
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not same_origin(
            request.headers.get("origin"), str(request.base_url)
        ) or not csrf_matches(expected, form.get(CSRF_FIELD)):
            return self._login_form(request, error="csrf.failed", status=403)
        runtime = self.runtime
        settings = runtime.settings
        async with runtime.sessionmaker() as session, session.begin():
            result = await check_login(
                session,
                name=form.get("username", ""),
                password=form.get("password", ""),
                hasher=runtime.password_hasher,
                max_failures=settings.login_max_failures,
                lockout=timedelta(seconds=settings.login_lockout_seconds),
            )
            if result.user is not None:
                cookie, _ = await sessions.start_session(
                    session, user=result.user, kind=LOGIN, lifetime=self.lifetime
                )
        if result.user is None:
            key = "signin.locked" if result.refusal is LoginRefusal.LOCKED else "signin.failed"
            request.scope["query_string"] = urlencode({"next": form.get("next", "")}).encode()
            return self._login_form(request, error=key, status=401)
        target = safe_next(form.get("next"), prefixes=(AUTHORIZATION_PATH + "?",), default="/")
        response = RedirectResponse(target, 303)
        self._cookie(response, LOGIN_COOKIE, cookie)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    # --- sign-out ------------------------------------------------------------------------

    async def logout_page(self, request: Request) -> Response:
        console = await self._console_row(request)
        request.scope.setdefault("state", {})["csrf_token"] = console.csrf_token if console else ""
        return render(request, "logout.html", {"signed_in": console is not None})

    async def logout(self, request: Request) -> Response:
        try:
            form = parse_form(await request.body(), request.headers.get("content-type", ""))
        except FormError:
            form = {}
        console = await self._console_row(request)
        if console is not None and not csrf_matches(console.csrf_token, form.get(CSRF_FIELD)):
            return render(request, "message.html", {"message": "csrf.failed"}, status=403)
        async with self.runtime.sessionmaker() as session, session.begin():
            for name, kind in ((CONSOLE_COOKIE, CONSOLE), (LOGIN_COOKIE, LOGIN)):
                value = request.cookies.get(name)
                row = await session.get(StaffSession, sessions.session_id(value or ""))
                if value and row is not None and row.kind == kind:
                    await sessions.end_session(session, row=row)
        response = render(request, "message.html", {"message": "signed.out", "signin_link": True})
        for name in (CONSOLE_COOKIE, LOGIN_COOKIE):
            response.delete_cookie(name, path="/")
        return response

    async def console_person(self, request: Request) -> Person | None:
        """Who is signed in at this browser's console session, if anyone (touches it)."""
        async with self.runtime.sessionmaker() as session, session.begin():
            found = await sessions.resume_session(
                session,
                cookie_value=request.cookies.get(CONSOLE_COOKIE),
                kind=CONSOLE,
                lifetime=self.lifetime,
            )
            return Person.of(found[1]) if found else None

    async def _console_row(self, request: Request) -> StaffSession | None:
        async with self.runtime.sessionmaker() as session, session.begin():
            found = await sessions.resume_session(
                session,
                cookie_value=request.cookies.get(CONSOLE_COOKIE),
                kind=CONSOLE,
                lifetime=self.lifetime,
            )
        return found[0] if found else None

    # --- the console client's side of the code flow ----------------------------------------

    async def start(self, request: Request) -> Response:
        """RFC 7636 §4.1–4.3: a fresh verifier and state, then to the authorization endpoint."""
        target = safe_next(
            request.query_params.get("next"), prefixes=("/console",), default="/console"
        )
        again = await self._outside_again(request, target)
        if again is not None:
            return again
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        state = secrets.token_urlsafe(24)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": CONSOLE_CLIENT_ID,
                "redirect_uri": _callback_uri(request),
                "state": state,
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            }
        )
        response = RedirectResponse(f"{AUTHORIZATION_PATH}?{query}", 303)
        value = f"{state}.{verifier}.{quote(target, safe='')}"
        self._cookie(
            response, PKCE_COOKIE, value, path=CALLBACK_PATH, max_age=PKCE_LIFETIME, samesite="lax"
        )
        return response

    async def _outside_again(self, request: Request, target: str) -> Response | None:
        """A person of an outside provider whose console token runs out signs in there again
        (the provider's own session usually makes that one redirect each way)."""
        if not self.outside_paths or CONSOLE_COOKIE not in request.cookies:
            return None
        async with self.runtime.sessionmaker() as session, session.begin():
            found = await sessions.resume_session(
                session, cookie_value=request.cookies.get(CONSOLE_COOKIE), kind=CONSOLE,
                lifetime=self.lifetime,
            )  # fmt: skip
        path = self.outside_paths.get(found[1].issuer or "") if found else None
        if path is None:
            return None
        return RedirectResponse(f"{path}?{urlencode({'next': target})}", 303)

    async def callback(self, request: Request) -> Response:
        state, verifier, target = _pending(request.cookies.get(PKCE_COOKIE, ""))
        given_state = request.query_params.get("state", "")
        code = request.query_params.get("code")
        if not state or not csrf_matches(state, given_state) or not code:
            return render(
                request,
                "message.html",
                {"message": "signin.expired", "signin_link": True},
                status=400,
            )
        outcome = await self.endpoints.exchange(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": _callback_uri(request),
                "client_id": CONSOLE_CLIENT_ID,
                "code_verifier": verifier,
            }
        )
        if outcome.status != 200:
            return render(
                request,
                "message.html",
                {"message": "signin.expired", "signin_link": True},
                status=400,
            )
        token = outcome.body["access_token"]
        try:
            claims = await self.runtime.verifier.verify(token)
        except TokenError:
            return render(request, "message.html", {"message": "error"}, status=500)
        async with self.runtime.sessionmaker() as session, session.begin():
            user = await get_user(session, name=claims.subject)
            found = await sessions.resume_session(
                session, cookie_value=request.cookies.get(CONSOLE_COOKIE), kind=CONSOLE,
                lifetime=self.lifetime,
            )  # fmt: skip
            cookie = request.cookies.get(CONSOLE_COOKIE)
            if found is None or found[1].id != user.id:
                if found is not None:
                    await sessions.end_session(session, row=found[0])
                cookie, row = await sessions.start_session(
                    session, user=user, kind=CONSOLE, lifetime=self.lifetime
                )
            else:
                row = found[0]
            await sessions.keep_token(
                session, row=row, token=token, jti=claims.jti, expires_at=claims.expires_at
            )
        response = RedirectResponse(target, 303)
        assert cookie is not None
        self._cookie(response, CONSOLE_COOKIE, cookie)
        response.delete_cookie(PKCE_COOKIE, path=CALLBACK_PATH)
        return response


def _callback_uri(request: Request) -> str:
    return str(request.base_url).rstrip("/") + CALLBACK_PATH


def _pending(value: str) -> tuple[str, str, str]:
    from urllib.parse import unquote

    parts = value.split(".")
    if len(parts) != 3:
        return "", "", "/console"
    target = safe_next(unquote(parts[2]), prefixes=("/console",), default="/console")
    return parts[0], parts[1], target
