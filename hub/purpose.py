"""Reads why a request is made (X-Request-Purpose), for whom (-User) and for which case (-Case).

Department systems act for a person and a case, as X-Road's user-id and issue headers
record. Header values may carry Chinese text as raw UTF-8 or percent-encoded UTF-8.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.datastructures import Headers

from schema.context import Purpose

MAX_LENGTH = 256


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
