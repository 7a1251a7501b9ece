"""Relay-style connection plumbing: opaque cursors and page-size limits."""

from __future__ import annotations

import base64
import binascii

import strawberry

from schema.errors import BadUserInputError

_PREFIX = "r:"


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{key}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    """The key inside a cursor this hub issued; anything else is the caller's mistake."""
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not decoded.startswith(_PREFIX):
        raise BadUserInputError(
            "`after` is not a cursor from this API; pass a `pageInfo.endCursor` you received",
            argument="after",
        )
    return decoded[len(_PREFIX) :]


def check_page_size(first: int, *, maximum: int) -> None:
    if not 0 <= first <= maximum:
        raise BadUserInputError(
            f"`first` must be between 0 and {maximum}, got {first}; page with `after` instead",
            argument="first",
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None
