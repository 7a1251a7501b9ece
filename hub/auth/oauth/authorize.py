"""The authorization endpoint (RFC 6749 §3.1, §4.1.1): `GET /oauth/authorize`.

The request is validated first (client, redirect URI, response type, PKCE): an error before
the redirect URI is known is a page of its own (§4.1.2.1 forbids redirecting then), after it
a redirect carrying `error`. A person not signed in is sent to `/login` and comes back here;
a signed-in person (the "login" session) gets a code at once — the consoles are the hub's
own client, so there is no consent screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import anyio.to_thread
from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from hub.auth.oauth.codes import Person
from hub.auth.oauth.metadata import AUTHORIZATION_PATH as AUTHORIZE_PATH
from hub.auth.oauth.requests import NO_STORE, AuthorizeRequest, BadRequest, single_parameters
from hub.auth.sessions import LOGIN, LOGIN_COOKIE, SessionLifetime, resume_session

if TYPE_CHECKING:
    from hub.auth.oauth.server import HubAuthorizationServer

LOGIN_PATH = "/login"


async def signed_in_person(server: HubAuthorizationServer, request: Request) -> Person | None:
    """The person of this browser's live login session, if any."""
    runtime = server.runtime
    async with runtime.sessionmaker() as session, session.begin():
        found = await resume_session(
            session,
            cookie_value=request.cookies.get(LOGIN_COOKIE),
            kind=LOGIN,
            lifetime=SessionLifetime.of(runtime.settings),
        )
        return Person.of(found[1]) if found else None


async def authorize(server: HubAuthorizationServer, request: Request) -> Response:
    try:
        query = single_parameters(list(request.query_params.multi_items()))
    except BadRequest as error:
        return _error_page(error.description)
    uri = server.runtime.settings.issuer + AUTHORIZE_PATH
    oauth_request = AuthorizeRequest(uri=uri, headers=request.headers, query=query)

    def validate() -> object:
        return server.get_consent_grant(oauth_request, end_user=None)

    try:
        grant = await anyio.to_thread.run_sync(validate)
    except OAuth2Error as error:
        return _error_response(server, oauth_request, error)
    person = await signed_in_person(server, request)
    if person is None:
        back = AUTHORIZE_PATH + "?" + request.url.query
        return RedirectResponse(f"{LOGIN_PATH}?next={quote(back, safe='')}", 303, NO_STORE)

    def respond() -> Response:
        outcome = server.create_authorization_response(oauth_request, person, grant)
        location = dict(outcome.headers).get("Location")
        if location is None:  # pragma: no cover - authlib answers a code grant with a redirect
            return _error_page("the authorization could not be completed")
        return RedirectResponse(location, 302, NO_STORE)

    result: Response = await anyio.to_thread.run_sync(respond)
    return result


def _error_response(
    server: HubAuthorizationServer, oauth_request: AuthorizeRequest, error: OAuth2Error
) -> Response:
    if error.redirect_uri:  # RFC 6749 §4.1.2.1: the client's redirect URI is trusted now
        outcome = server.handle_error_response(oauth_request, error)
        location = dict(outcome.headers).get("Location")
        if location:
            return RedirectResponse(location, 302, NO_STORE)
    return _error_page(f"{error.error}: {error.description or ''}".strip(": "))


def _error_page(description: str) -> Response:
    text = f"无法登录 / sign-in request refused: {description}"
    return PlainTextResponse(text, 400, headers=NO_STORE)
