"""Signing in to the consoles at a trusted outside OpenID Connect provider.

`GET /login/outside/<name>[?next=/console/…]` starts the authorization code flow at the
provider (PKCE S256, `state`, `nonce`, hub/auth/oidc_signin.py); the three and the console
page to come back to are kept in a short-lived HTTP-only cookie (`hub_outside`, scoped to the callback's path). That cookie is SameSite=Lax: a
Strict cookie is not sent on the provider's cross-site redirect back. The console session
cookie stays Strict.

`GET /login/outside/<name>/callback` checks `state`, exchanges the code, verifies the ID
token and maps the person exactly as that issuer's bearer tokens are mapped (roles through
`role_map`/`allowed_roles`, the grid from `grid_claim`). The person is kept as a staff user
named `<name>:<sub>` (`issuer` set: no password here; role and grid refreshed at each sign-in;
`hub users disable` works). The console session then holds a token the hub issues for that
subject (the console client's, `token_ttl_seconds`), so every GraphQL call of theirs is
audited under that name; `/logout` revokes it like any console session.

Every failure is a clear page, never a 500: provider down, `error=…` from the provider, a bad
or missing `state`, a refused code, a bad ID token (signature, `iss`, `aud`, `exp`, `nonce`),
an unknown issuer, no allowed role, a disabled person. Each is recorded in the audit trail
(endpoint `console/signin`, outcome DENIED, the reason as the operation name).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.audit.records import AuditRecord, Outcome
from hub.auth import sessions
from hub.auth.issuers import TrustedIssuer
from hub.auth.oauth.codes import CONSOLE_CLIENT_ID
from hub.auth.oidc_signin import OutsideProviders, SignInRefused
from hub.auth.policy import RowScope
from hub.auth.runtime import AuthRuntime
from hub.auth.sessions import CONSOLE, CONSOLE_COOKIE, SessionLifetime
from hub.auth.tokens import TokenError
from hub.auth.tokens.verify import outside_roles_and_grid
from hub.consoles.forms import csrf_matches
from hub.consoles.signin import safe_next
from hub.consoles.templating import render
from hub.errors import ErrorCode
from hub.request_headers import request_id_of
from hub.storage.base import utcnow
from hub.storage.models import Grid, StaffUser

log = logging.getLogger(__name__)

OUTSIDE_PREFIX = "/login/outside"
OUTSIDE_COOKIE = "hub_outside"
FLOW_LIFETIME = 600  # seconds a started sign-in may take at the provider
NO_PASSWORD = "!outside"  # not an argon2 hash: no password ever matches it
_PROVIDER_ERROR = re.compile(r"^[a-z_]{1,64}$")
_FORBIDDEN_REASONS = frozenset({"no_role", "no_grid", "disabled"})


@dataclass(frozen=True)
class MappedPerson:
    subject: str
    roles: list[str]
    grid: str | None


class OutsideSignIn:
    """The two routes of sign-in at an outside provider."""

    def __init__(self, runtime: AuthRuntime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.providers = OutsideProviders(
            settings.trusted_issuers,
            runtime.verifier.remote_keys,
            leeway_seconds=settings.token_leeway_seconds,
        )

    def paths(self) -> dict[str, str]:
        """issuer → its sign-in path: where a console session of its person signs in again."""
        return {
            trusted.issuer: f"{OUTSIDE_PREFIX}/{name}"
            for name, trusted in self.providers.issuers.items()
        }

    def buttons(self) -> list[tuple[str, str]]:
        """(path, label) of each provider people may sign in at, for the sign-in page."""
        return [
            (f"{OUTSIDE_PREFIX}/{name}", trusted.button_label)
            for name, trusted in self.providers.issuers.items()
        ]

    async def start(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            trusted = self.providers.named(name)
            endpoints = await self.providers.endpoints(trusted)
        except SignInRefused as refused:
            return await self._refused(request, refused, trusted=None)
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        back = safe_next(request.query_params.get("next"), prefixes=("/console",), default="")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        target = self.providers.authorization_url(
            trusted,
            endpoints,
            redirect_uri=_callback_uri(request, name),
            state=state,
            nonce=nonce,
            code_challenge=challenge.rstrip(b"=").decode(),
        )
        response = RedirectResponse(target, 303)
        response.set_cookie(
            OUTSIDE_COOKIE, f"{state}.{nonce}.{verifier}.{quote(back, safe='')}",
            max_age=FLOW_LIFETIME,
            path=_callback_path(name), httponly=True, samesite="lax", secure=self._secure,
        )  # fmt: skip
        return response

    @property
    def _secure(self) -> bool:
        return self.runtime.settings.issuer.startswith("https://")

    async def callback(self, request: Request) -> Response:
        name = request.path_params["name"]
        trusted: TrustedIssuer | None = None
        try:
            trusted = self.providers.named(name)
            person = await self._person(request, trusted, name)
            try:
                cookie = await self._signed_in(request, trusted, person)
            except IntegrityError:  # the same person's first sign-in, twice at once
                raise SignInRefused("concurrent_first_signin", "signin.expired") from None
            back = _pending(request.cookies.get(OUTSIDE_COOKIE, ""))[3]
        except SignInRefused as refused:
            response = await self._refused(request, refused, trusted=trusted)
            response.delete_cookie(OUTSIDE_COOKIE, path=_callback_path(name))
            return response
        response = RedirectResponse(back or "/console", 303)
        response.set_cookie(
            CONSOLE_COOKIE, cookie, httponly=True, samesite="strict", secure=self._secure,
            path="/",
        )  # fmt: skip
        response.delete_cookie(OUTSIDE_COOKIE, path=_callback_path(name))
        return response

    async def _person(self, request: Request, trusted: TrustedIssuer, name: str) -> MappedPerson:
        query = request.query_params
        error = query.get("error")
        if error is not None:
            code = error if _PROVIDER_ERROR.match(error) else "invalid"
            message = "outside.denied" if code == "access_denied" else "outside.failed"
            raise SignInRefused(f"provider_error:{code}", message, status=403)
        state, nonce, verifier, _ = _pending(request.cookies.get(OUTSIDE_COOKIE, ""))
        code_value = query.get("code")
        if not state or not csrf_matches(state, query.get("state", "")) or not code_value:
            raise SignInRefused("bad_state", "signin.expired")
        if query.get("iss") not in (None, trusted.issuer):  # RFC 9207 §2.4: a mix-up
            raise SignInRefused("issuer_mismatch")
        id_token = await self.providers.exchange(
            trusted,
            code=code_value,
            redirect_uri=_callback_uri(request, name),
            code_verifier=verifier,
        )
        claims = await self.providers.verify_id_token(trusted, id_token, nonce=nonce)
        subject = f"{name}:{claims['sub']}"
        if len(subject) > 64:
            raise SignInRefused("subject_too_long")
        roles, grid = outside_roles_and_grid(claims, trusted, self.runtime.policy)
        if not roles:
            raise SignInRefused(f"no_role:{subject}", "outside.no_role", status=403)
        return MappedPerson(subject, roles, grid)

    async def _signed_in(
        self, request: Request, trusted: TrustedIssuer, person: MappedPerson
    ) -> str:
        """The person's staff row brought up to date, a console session with a fresh hub
        token; returns the session cookie's value."""
        runtime, policy = self.runtime, self.runtime.policy
        role = policy.roles[person.roles[0]]
        grid_scoped = any(policy.roles[name].row_scope is RowScope.GRID for name in person.roles)
        lifetime = SessionLifetime.of(runtime.settings)
        async with runtime.sessionmaker() as session, session.begin():
            if grid_scoped and (
                person.grid is None or await session.get(Grid, person.grid) is None
            ):
                raise SignInRefused(f"no_grid:{person.subject}", "outside.no_grid", status=403)
            user = await session.scalar(select(StaffUser).where(StaffUser.name == person.subject))
            if user is None:
                user = StaffUser(name=person.subject, password_hash=NO_PASSWORD, failed_logins=0)
                session.add(user)
            elif user.issuer != trusted.issuer:
                raise SignInRefused(f"name_taken:{person.subject}", status=403)
            elif user.disabled_at is not None:
                raise SignInRefused(f"disabled:{person.subject}", "outside.disabled", status=403)
            user.issuer = trusted.issuer
            user.role = role.name
            user.grid_code = person.grid if role.row_scope is RowScope.GRID else None
            user.last_login_at = utcnow()
            await session.flush()
            token, _ = runtime.issuer.issue(
                client_id=CONSOLE_CLIENT_ID,
                subject=person.subject,
                scopes=frozenset().union(*(policy.roles[name].scopes for name in person.roles)),
                roles=person.roles,
                grid=person.grid,
            )
            try:
                claims = await runtime.verifier.verify(token)
            except TokenError:
                raise SignInRefused("token_refused", status=500) from None
            found = await sessions.resume_session(
                session, cookie_value=request.cookies.get(CONSOLE_COOKIE), kind=CONSOLE,
                lifetime=lifetime,
            )  # fmt: skip
            if found is not None:
                await sessions.end_session(session, row=found[0])
            cookie, row = await sessions.start_session(
                session, user=user, kind=CONSOLE, lifetime=lifetime
            )
            await sessions.keep_token(
                session, row=row, token=token, jti=claims.jti, expires_at=claims.expires_at
            )
        return cookie

    async def _refused(
        self, request: Request, refused: SignInRefused, *, trusted: TrustedIssuer | None
    ) -> Response:
        reason, _, subject = refused.reason.partition(":")
        if reason == "provider_error":
            reason, subject = refused.reason, ""
        log.info("outside sign-in refused: %s", refused.reason)
        await self._audit(request, reason, subject or None, refused, trusted)
        label = trusted.button_label if trusted is not None else ""
        return render(
            request,
            "message.html",
            {"message": refused.message, "signin_link": True, "provider": label},
            status=refused.status,
        )

    async def _audit(
        self,
        request: Request,
        reason: str,
        subject: str | None,
        refused: SignInRefused,
        trusted: TrustedIssuer | None,
    ) -> None:
        trail: Any = getattr(request.app.state, "audit", None)
        if trail is None:
            return
        forbidden = reason.partition(":")[0] in _FORBIDDEN_REASONS
        record = AuditRecord(
            at=utcnow(),
            request_id=request_id_of(request.headers),
            endpoint="console/signin",
            outcome=Outcome.DENIED if refused.status < 500 else Outcome.ERROR,
            duration_us=0,
            client_id=trusted.console_client_id if trusted else None,
            subject=subject,
            client_address=request.client.host if request.client else None,
            operation_type="signin",
            operation_name=reason,
            error_codes=[ErrorCode.FORBIDDEN if forbidden else ErrorCode.UNAUTHENTICATED],
            issuer=trusted.issuer if trusted else None,
        )
        with contextlib.suppress(Exception):  # refused either way; the audit is best effort
            await trail.writer.append(record)


def _callback_path(name: str) -> str:
    return f"{OUTSIDE_PREFIX}/{name}/callback"


def _callback_uri(request: Request, name: str) -> str:
    return str(request.base_url).rstrip("/") + _callback_path(name)


def _pending(value: str) -> tuple[str, str, str, str]:
    """state, nonce, PKCE verifier and the console page to return to ("": the landing)."""
    parts = value.split(".")
    if len(parts) != 4 or not all(parts[:3]):
        return "", "", "", ""
    back = safe_next(unquote(parts[3]), prefixes=("/console",), default="")
    return parts[0], parts[1], parts[2], back
