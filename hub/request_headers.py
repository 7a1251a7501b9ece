"""Request headers the audit trail records: why (X-Request-Purpose), for whom, which case, which id.

Department systems act for a person and a case, as X-Road's user-id and issue headers
record. HTTP header values are not UTF-8 (browsers refuse to send `X-Request-Purpose: 入户走访`),
so text beyond ASCII is sent percent-encoded UTF-8 (RFC 3986 §2.1:
`X-Request-Purpose: %E5%85%A5%E6%88%B7%E8%B5%B0%E8%AE%BF`) and decoded here, before anything is
recorded; raw UTF-8 is accepted too. A value that does not decode to clean text — malformed
UTF-8, control or bidirectional-format characters — is recorded exactly as it arrived,
percent-encoded: never a replacement character, never a forged log line.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

from starlette.datastructures import Headers

MAX_LENGTH = 256


@dataclass(frozen=True)
class Purpose:
    """Why the data is requested (X-Request-Purpose), for whom and for which case."""

    purpose: str | None = None
    end_user: str | None = None
    case_ref: str | None = None


# Printable ASCII but the space (trimmed, never escaped) stays as sent, existing escapes too.
_KEPT = "".join(c for c in string.printable if c.isprintable())
_UNCLEAN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})  # controls, format (bidi), unassigned …


def _header_text(headers: Headers, name: str) -> str | None:
    raw = headers.get(name)
    if raw is None:
        return None
    return _cleaned(raw.encode("latin-1"))  # the bytes on the wire (ASGI decodes as latin-1)


def _cleaned(sent: bytes) -> str | None:
    text = _decoded(sent)
    if text is None:
        text = quote(sent, safe=_KEPT)
    return text.strip()[:MAX_LENGTH] or None


def _decoded(sent: bytes) -> str | None:
    """Percent-decoded UTF-8 (RFC 3986 §2.1; `+` is not a space), or None unless clean text."""
    try:
        text = unquote_to_bytes(sent).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(c) in _UNCLEAN for c in text):
        return None
    return text


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
        return _cleaned(value.encode("utf-8"))

    return Purpose(
        purpose=text("x-request-purpose", given.purpose),
        end_user=text("x-request-user", given.end_user),
        case_ref=text("x-request-case", given.case_ref),
    )


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id_of(headers: Headers) -> str:
    """The caller's X-Request-Id when it is a sane token, otherwise a fresh one."""
    given = headers.get("x-request-id", "")
    # 32 random hex digits, as uuid4().hex has (less six fixed bits) at a tenth of its cost.
    return given if _REQUEST_ID.match(given) else secrets.token_hex(16)
