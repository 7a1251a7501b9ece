"""Request headers the audit trail records: why (X-Request-Purpose), for whom, which case, which id.

Department systems act for a person and a case, as X-Road's user-id and issue headers
record. Header values may carry Chinese text as raw UTF-8 or percent-encoded UTF-8.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from starlette.datastructures import Headers

MAX_LENGTH = 256


@dataclass(frozen=True)
class Purpose:
    """Why the data is requested (X-Request-Purpose), for whom and for which case."""

    purpose: str | None = None
    end_user: str | None = None
    case_ref: str | None = None


def _header_text(headers: Headers, name: str) -> str | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        text = raw.encode("latin-1").decode("utf-8")  # raw UTF-8 bytes arrive as latin-1
    except UnicodeError:
        text = raw
    text = unquote(text).strip()
    return text[:MAX_LENGTH] or None


def request_purpose(headers: Headers) -> Purpose:
    return Purpose(
        purpose=_header_text(headers, "x-request-purpose"),
        end_user=_header_text(headers, "x-request-user"),
        case_ref=_header_text(headers, "x-request-case"),
    )


def purpose_in_params(params: Mapping[str, object], given: Purpose) -> Purpose:
    """A websocket's purpose: its `connection_init` payload's X-Request-* entries (browsers
    cannot set handshake headers), else what the handshake's headers said."""
    lowered = {key.lower(): value for key, value in params.items()}

    def text(name: str, fallback: str | None) -> str | None:
        value = lowered.get(name)
        if not isinstance(value, str):
            return fallback
        return unquote(value).strip()[:MAX_LENGTH] or None

    return Purpose(
        purpose=text("x-request-purpose", given.purpose),
        end_user=text("x-request-user", given.end_user),
        case_ref=text("x-request-case", given.case_ref),
    )


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id_of(headers: Headers) -> str:
    """The caller's X-Request-Id when it is a sane token, otherwise a fresh one."""
    given = headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex
