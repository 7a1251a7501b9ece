"""Starlette ↔ authlib at the HTTP edge: the form read into an `OAuth2Request`, results back.

The form body is read in async code (size-capped, urlencoded only, no repeated parameters,
RFC 6749 §3.2) and wrapped in an `OAuth2Request` whose URI is the endpoint's public URL under
`settings.issuer` (authlib refuses non-TLS URIs other than loopback: RFC 6749 §3.2). authlib's
`(status, body, headers)` result is kept as an `Outcome` until it becomes a Starlette response.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 16
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1


class _FormPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, form: dict[str, str]) -> None:
        self._form = form

    @property
    def data(self) -> dict[str, str]:
        return self._form

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return defaultdict(list, {key: [value] for key, value in self._form.items()})


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """A form POST, read in async code, as authlib's `OAuth2Request`."""

    def __init__(self, *, uri: str, headers: Headers, form: dict[str, str]) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = _FormPayload(form)
        self._form = form

    @property
    def args(self) -> dict[str, str]:
        return {}  # credentials never come in the query string (RFC 6749 §2.3.1)

    @property
    def form(self) -> dict[str, str]:
        return self._form


class BadRequest(Exception):
    """A body that never reaches authlib; `description` says what to send instead."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body (RFC 6749 §4.4.2), each parameter at most once (§3.2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadRequest("send parameters as application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadRequest("request body too large")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("malformed request body") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise BadRequest(f"parameter {name!r} repeated")
        form[name] = value
    return form


def claimed_client_id(headers: Headers, form: Mapping[str, str]) -> str:
    """Who the request says it is, before any check: the throttling key."""
    client_id, _ = extract_basic_authorization(headers)
    if client_id:
        return str(client_id)[:64]
    if form.get("client_id"):
        return form["client_id"][:64]
    return _assertion_subject(form.get("client_assertion", ""))[:64]


def _assertion_subject(assertion: str) -> str:
    try:
        payload = assertion.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return ""
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) else ""


@dataclass(frozen=True)
class Outcome:
    """authlib's `(status, body, headers)`, kept as data until it becomes a response."""

    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None

    def response(self) -> Response:
        headers = {name: value for name, value in self.headers if name.lower() != "content-type"}
        return JSONResponse(self.body, self.status, headers={**headers, **NO_STORE})


def error_response(status: int, error: str, description: str, **headers: str) -> Response:
    """An error answered before authlib sees the request (RFC 6749 §5.2 body)."""
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status, headers={**headers, **NO_STORE})


class AuthorizeRequest(OAuth2Request):  # type: ignore[misc]
    """A GET to the authorization endpoint (RFC 6749 §4.1.1): parameters in the query."""

    def __init__(self, *, uri: str, headers: Headers, query: dict[str, str]) -> None:
        super().__init__("GET", uri, headers=headers)
        self.payload = _FormPayload(query)
        self._query = query

    @property
    def args(self) -> dict[str, str]:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return {}


def single_parameters(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Each parameter at most once (RFC 6749 §3.1); BadRequest names the repeated one."""
    if len(pairs) > MAX_FORM_FIELDS:
        raise BadRequest("too many parameters")
    parameters: dict[str, str] = {}
    for name, value in pairs:
        if name in parameters:
            raise BadRequest(f"parameter {name!r} repeated")
        parameters[name] = value
    return parameters
