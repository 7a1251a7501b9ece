"""OAuth scope strings (RFC 6749 §3.3): scope-tokens of printable ASCII, separated by spaces.

`scope = scope-token *( SP scope-token )`, `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
Only U+0020 separates tokens: `str.split()` would also split on tabs, newlines and Unicode
spaces (U+3000 …), so a string a client or an issuer meant as one (malformed) token would
yield extra scopes. Repeated, leading and trailing spaces are tolerated; any other character
outside the grammar makes the whole string malformed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


class ScopeSyntaxError(ValueError):
    """A scope string outside RFC 6749 §3.3; the message says what a valid one looks like."""

    def __init__(self) -> None:
        super().__init__(
            "malformed scope: scope tokens are printable ASCII separated by spaces (RFC 6749 section 3.3)"
        )


def split_scope(value: str) -> list[str]:
    """The scope-tokens of a scope string, in order; `ScopeSyntaxError` if it is malformed."""
    return checked_scopes(value.split(" "))


def checked_scopes(tokens: Iterable[str]) -> list[str]:
    """Scope tokens given as a list (the `scp` claim, `--scope` options), each checked."""
    checked = [token for token in tokens if token != ""]
    if not all(_SCOPE_TOKEN.fullmatch(token) for token in checked):
        raise ScopeSyntaxError
    return checked
