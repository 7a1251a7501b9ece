"""Keeps personal numbers out of the audit trail: ID and mobile numbers become keyed hashes.

Wherever they appear — a whole variable, a word inside free text, a header — ID numbers
(18 digits or 17 and X, legacy 15 digits; spaces, hyphens and full-width digits allowed)
and mainland mobile numbers (11 digits from 13 to 19, optional +86) are replaced by
`hmac-sha256:<32 hex>`, a keyed hash (HMAC-SHA256 with the audit key) of the number in
its canonical form: ID numbers as 18 characters (a valid 15-digit number is widened
first), mobiles as their 11 digits. Equal numbers hash equally however they were written,
so an auditor holding a number can search for it (`Redactor.number_token`), while the
trail itself holds no number. Identifiers whose hex digits happen to run like a number
(UUIDs, long hex strings such as hashes) are left as they are, so request ids still match. Variables whose name says they hold such a number (idNumber,
phone, …) are hashed whole, whatever they look like.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
import re
from typing import Any

from hub.audit.records import AuditRecord
from hub.identity import IdNumberError, upgrade_legacy_id_number

_SEPARATOR = r"[ \-]?"
_HEX = "[0-9a-fA-F]"
# Left alone: hashes already made, and identifiers whose hex digits may run like a number
# (UUIDs; hex strings of 24 characters or more with at least two letters among them).
_OPAQUE = (
    r"hmac-sha256:[0-9a-f]{32}"
    rf"|(?<![0-9A-Za-z]){_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}(?![0-9A-Za-z])"
    rf"|(?<![0-9A-Za-z])(?=(?:[0-9]*[a-fA-F]){{2}}){_HEX}{{24,}}(?![0-9A-Za-z])"
)
_NUMBERS = re.compile(
    rf"(?P<opaque>{_OPAQUE})"
    rf"|(?<!\d)(?P<id18>\d(?:{_SEPARATOR}\d){{16}}{_SEPARATOR}[\dXx])(?!\d)"
    rf"|(?<!\d)(?P<id15>\d(?:{_SEPARATOR}\d){{14}})(?!\d)"
    rf"|(?<!\d)(?P<mobile>(?:\+?86{_SEPARATOR})?1[3-9]\d(?:{_SEPARATOR}\d){{8}})(?!\d)",
    re.ASCII,  # \d is 0-9 only: full-width digits are translated first
)
_SENSITIVE_NAME = re.compile(r"(id_?number|id_?card|sfzh|phone|mobile|tel)", re.IGNORECASE)
# Full-width digits, letters X and spaces to their ASCII forms; one character for one, so
# positions found in the translation hold in the original.
_HALF_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ\u3000－", "0123456789Xx -")
MAX_STRING = 256
MAX_DEPTH = 8
MAX_MATCHED = 64  # longer strings cannot match the ID or phone patterns above
MAX_ITEMS = 50  # of a list or an object: a variable of 20,000 items is kept as its first 50
# Column widths of the free-text fields a record carries (hub/storage/models/audit.py).
TEXT_FIELDS = {
    "request_id": 64,
    "subject": 255,
    "purpose": 256,
    "end_user": 256,
    "case_ref": 256,
    "operation_name": 128,
}


def canonical_number(found: str) -> str:
    """The form a number is hashed in: ID numbers 18 characters, mobiles 11 digits."""
    plain = re.sub(r"[^0-9X]", "", found.translate(_HALF_WIDTH).upper())
    if len(plain) == 15:
        try:
            return upgrade_legacy_id_number(plain)
        except IdNumberError:
            return plain  # not a valid legacy number: still hashed, as written
    if len(plain) == 13 and plain.startswith("86"):
        return plain[2:]
    return plain


CLEAN_REMEMBERED = 4096


class Redactor:
    def __init__(self, key: bytes) -> None:
        self._key = key
        # Texts that held no number to replace (operation names, purposes, variable names
        # repeat from request to request): nothing personal is kept here, by construction.
        self._clean: set[str] = set()

    def keyed_hash(self, value: str) -> str:
        digest = hmac.new(self._key, value.strip().upper().encode(), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest[:32]}"

    def number_token(self, number: str) -> str:
        """What the trail holds in place of `number` (an ID or mobile number, as typed)."""
        return self.keyed_hash(canonical_number(number))

    def text(self, value: str) -> str:
        """`value` with every ID and mobile number in it replaced by its keyed hash."""
        if value in self._clean:
            return value
        plain = value.translate(_HALF_WIDTH)
        parts: list[str] = []
        end = 0
        for match in _NUMBERS.finditer(plain):
            if match.lastgroup == "opaque":
                continue
            parts += [value[end : match.start()], self.number_token(match.group())]
            end = match.end()
        if parts:
            return "".join([*parts, value[end:]])
        if len(self._clean) >= CLEAN_REMEMBERED:
            self._clean.clear()
        self._clean.add(value)
        return value

    def record(self, record: AuditRecord) -> AuditRecord:
        """The record with its free-text fields redacted and cut to their columns' widths."""
        changes: dict[str, Any] = {}
        for name, width in TEXT_FIELDS.items():
            value = getattr(record, name)
            if value:
                redacted = self.text(value)[:width]
                if redacted != value:
                    changes[name] = redacted
        return dataclasses.replace(record, **changes) if changes else record

    def variables(self, variables: dict[str, Any] | None) -> dict[str, Any]:
        return {
            self.text(str(name)): self._value(name, value, 0)
            for name, value in (variables or {}).items()
        }

    def _value(self, name: str, value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            return "[nested too deep]"
        if isinstance(value, dict):
            kept = dict(itertools.islice(value.items(), MAX_ITEMS))
            redacted = {
                self.text(str(k)): self._value(str(k), v, depth + 1) for k, v in kept.items()
            }
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
        if isinstance(value, int) and not isinstance(value, bool):
            return self._number(name, value)
        if value is None or isinstance(value, bool | float):
            return value
        return f"[{type(value).__name__}]"  # not JSON: the request cannot have sent it

    def _number(self, name: str, value: int) -> int | str:
        """A number sent as a JSON number is as personal as one sent as a string."""
        if _SENSITIVE_NAME.search(name):
            return self.keyed_hash(str(value))
        redacted = self.text(str(value))
        return value if redacted == str(value) else redacted

    def _string(self, name: str, value: str) -> str:
        if _SENSITIVE_NAME.search(name):
            stripped = value.strip()
            if len(stripped) > MAX_MATCHED:  # too long to be a number: spare translating it
                return self.keyed_hash(stripped)
            plain = stripped.translate(_HALF_WIDTH).strip()
            number = _NUMBERS.fullmatch(plain)
            if number is not None and number.lastgroup != "opaque":
                return self.number_token(plain)
            return self.keyed_hash(plain)
        # Scrubbed with some context past the cut, so no number is split by it in clear.
        cleaned = self.text(value[: 2 * MAX_STRING]).replace("\x00", "")  # PostgreSQL: no NUL
        return cleaned if len(cleaned) <= MAX_STRING else cleaned[:MAX_STRING] + "…[truncated]"
