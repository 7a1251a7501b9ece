"""Redacts request variables before they are stored: ID and phone numbers become keyed hashes.

A keyed hash (HMAC-SHA256) keeps equal values equal, so an auditor holding the key can
still tell whether a given number was asked for, while the trail itself holds no number.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
from typing import Any

_ID_NUMBER = re.compile(r"^\s*(\d{17}[\dXx]|\d{15})\s*$")
_PHONE = re.compile(r"^\s*(\+?86[- ]?)?1[3-9]\d{9}\s*$")
_SENSITIVE_NAME = re.compile(r"(id_?number|id_?card|sfzh|phone|mobile|tel)", re.IGNORECASE)
_FULL_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")
MAX_STRING = 256
MAX_DEPTH = 8
MAX_MATCHED = 64  # longer strings cannot match the ID or phone patterns above
MAX_ITEMS = 50  # of a list or an object: a variable of 20,000 items is kept as its first 50


class Redactor:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def keyed_hash(self, value: str) -> str:
        digest = hmac.new(self._key, value.strip().upper().encode(), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest[:32]}"

    def variables(self, variables: dict[str, Any] | None) -> dict[str, Any]:
        return {name: self._value(name, value, 0) for name, value in (variables or {}).items()}

    def _value(self, name: str, value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            return "[nested too deep]"
        if isinstance(value, dict):
            kept = dict(itertools.islice(value.items(), MAX_ITEMS))
            redacted = {k: self._value(str(k), v, depth + 1) for k, v in kept.items()}
            if len(value) > MAX_ITEMS:
                redacted["…"] = f"[{len(value) - MAX_ITEMS} more entries]"
            return redacted
        if isinstance(value, list):
            items = [self._value(name, item, depth + 1) for item in value[:MAX_ITEMS]]
            if len(value) > MAX_ITEMS:
                items.append(f"[{len(value) - MAX_ITEMS} more items]")
            return items
        if isinstance(value, str):
            return self._string(name, value)
        if value is None or isinstance(value, bool | int | float):
            return value
        return f"[{type(value).__name__}]"  # not JSON: the request cannot have sent it

    def _string(self, name: str, value: str) -> str:
        if len(value) > MAX_MATCHED:  # too long to be a number: spare translating a megabyte
            if _SENSITIVE_NAME.search(name):
                return self.keyed_hash(value)
            return value[:MAX_STRING].replace("\x00", "") + "…[truncated]"
        plain = value.translate(_FULL_WIDTH)
        if _SENSITIVE_NAME.search(name) or _ID_NUMBER.match(plain) or _PHONE.match(plain):
            return self.keyed_hash(plain)
        cleaned = value.replace("\x00", "")  # PostgreSQL text cannot hold NUL
        return cleaned if len(cleaned) <= MAX_STRING else cleaned[:MAX_STRING] + "…[truncated]"
