"""Rendering console pages: Jinja2 (autoescaped) with the language, the person and the CSRF token.

Every page gets `t(key)` in the browser's language, `lang`, `person` (None before sign-in) and
`csrf_token` (the session's, or the sign-in form's own), so every form can carry it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from hub.consoles.i18n import language, translate

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

templates = Jinja2Templates(directory=TEMPLATES)

# Sent with every console page: no framing, no inline script from elsewhere, nothing cached.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> Response:
    lang = language(request)
    state = request.scope.get("state", {})
    console = state.get("console")
    values: dict[str, Any] = {
        "t": lambda key: translate(key, lang),
        "lang": lang,
        "person": console.person if console is not None else None,
        "scopes": console.scopes if console is not None else frozenset(),
        "csrf_token": console.csrf_token if console is not None else state.get("csrf_token", ""),
        "path": request.url.path,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, values, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response
