"""Request headers the audit trail records: why (X-Request-Purpose), for whom, which case, which id.

Department systems act for a person and a case, as X-Road's user-id and issue headers
record. Header values may carry Chinese text as raw UTF-8 or percent-encoded UTF-8.
"""

from __future__ import annotations

import re
import uuid
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


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id_of(headers: Headers) -> str:
    """The caller's X-Request-Id when it is a sane token, otherwise a fresh one."""
    given = headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex
