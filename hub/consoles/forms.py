"""Reading console forms: urlencoded, size-capped, each field once; CSRF tokens compared safely."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl

MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 64
CSRF_FIELD = "csrf_token"


class FormError(ValueError):
    """A body that is not a console form."""


def parse_form(body: bytes, content_type: str) -> dict[str, str]:
    kind = content_type.split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormError("send the form as application/x-www-form-urlencoded")
    if len(body) > MAX_FORM_BYTES:
        raise FormError("form too large")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise FormError("malformed form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise FormError(f"field {name!r} repeated")
        form[name] = value
    return form


def csrf_matches(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def same_origin(origin: str | None, host_url: str) -> bool:
    """An `Origin` header, when the browser sent one, must be the hub's own."""
    return origin is None or origin.rstrip("/") == host_url.rstrip("/")
