"""Raw values into typed ones, range-checked so that nothing a database would refuse gets through.

One converter per target type, chosen once per field when a stream is built: whole numbers
fit a 32-bit column (checked on the exponent before an int is ever built, so `1e999999999`
costs nothing), decimals are finite, times convert to UTC, text holds no control
characters or unpaired surrogates, record ids fit their column, and an object, list or
boolean where a single value is expected is refused rather than turned into its repr.
Each refusal is a FieldError whose message says what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timezone
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from connectors.config import FieldSpec

DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d")
DEFAULT_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y%m%d%H%M%S")
TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "是", "有", "有效"})
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "否", "无", "无效"})
# Full-width ASCII (U+FF01–U+FF5E) sits at a fixed offset from ASCII; U+3000 is the ideographic space.
_AMOUNT_NOISE = str.maketrans("", "", ",¥￥元 ")
INT_RANGE = (-(2**31), 2**31 - 1)  # the storage models' Integer columns (PostgreSQL int4)
RECORD_ID_MAX = 128  # the source_record_id column
# C0 controls other than tab, newline and carriage return, DEL, and UTF-16 surrogates (which
# JSON `\ud800` escapes can produce but UTF-8 cannot encode): PostgreSQL refuses NUL in text.
_FORBIDDEN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

Converter = Callable[[Any], Any]


class FieldError(ValueError):
    """A value that does not convert; the message says what was expected."""


def _as_text(value: Any) -> str:
    if isinstance(value, Mapping | list):
        kind = "an object" if isinstance(value, Mapping) else "a list"
        raise FieldError(f"expected a single value, got {kind}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheets hand whole numbers back as floats
    return str(value)


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        raise FieldError("expected text, got a boolean")
    text = _as_text(value)
    if bad := _FORBIDDEN_TEXT.search(text):
        raise FieldError(f"text holds the control character {bad.group()!r}; fix the source")
    return text


def to_record_id(value: Any) -> str:
    text = _to_text(value)
    if len(text) > RECORD_ID_MAX:
        raise FieldError(f"a record id of {len(text)} characters; at most {RECORD_ID_MAX}")
    return text


def _finite_number(value: Any, expected: str) -> Decimal:
    try:
        number = Decimal(_as_text(value).translate(_AMOUNT_NOISE))
    except InvalidOperation:
        raise FieldError(f"expected {expected}, got {_shown(value)}") from None
    if not number.is_finite():
        raise FieldError(f"expected {expected}, got {_shown(value)}")
    return number


def _shown(value: Any) -> str:
    """A value for an error message: repr (control characters escaped), at most 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}…"


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise FieldError("expected a whole number, got a boolean")
    number = _finite_number(value, "a whole number")
    if number != number.to_integral_value():
        raise FieldError(f"expected a whole number, got {_shown(value)}")
    low, high = INT_RANGE
    # adjusted() first: int() of 1e999999999 would build a billion-digit number
    if number.adjusted() > 10 or not low <= int(number) <= high:
        raise FieldError(f"{_shown(value)} is out of range ({low} to {high})")
    return int(number)


def _to_decimal(value: Any) -> Decimal:
    return _finite_number(value, "a decimal amount")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = _as_text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise FieldError(f"expected a yes/no value, got {value!r}")


def _date_parser(formats: tuple[str, ...]) -> Converter:
    def to_date(value: Any) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = _as_text(value)
        for pattern in formats:
            try:
                return datetime.strptime(text, pattern).date()  # noqa: DTZ007 - a civil date
            except ValueError:
                continue
        raise FieldError(f"{_shown(text)} matches none of the date formats {', '.join(formats)}")

    return to_date


def _datetime_parser(formats: tuple[str, ...], zone: timezone) -> Converter:
    def to_datetime(value: Any) -> datetime:
        parsed = value if isinstance(value, datetime) else None
        if parsed is None:
            parsed = _parse_datetime_text(_as_text(value), formats)
        if parsed is None:
            shown = _shown(_as_text(value))
            raise FieldError(f"{shown} is not ISO 8601 and matches none of {', '.join(formats)}")
        return _in_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=zone), value)

    return to_datetime


def _in_utc(moment: datetime, value: Any) -> datetime:
    """UTC now, so a time at the calendar's edge fails here and not in the database."""
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise FieldError(f"{_shown(value)} is out of the range of times") from None


def _parse_datetime_text(text: str, formats: tuple[str, ...]) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for pattern in formats:
        try:
            return datetime.strptime(text, pattern)  # noqa: DTZ007 - zone added by the caller
        except ValueError:
            continue
    return None


def _code_lookup(table: Mapping[str, str], enum_type: type[Enum] | None) -> Converter:
    def lookup(value: Any) -> str:
        key = _as_text(value)
        if key in table:
            return table[key]
        if enum_type is not None and key in enum_type.__members__:
            return key  # already the hub's code
        raise FieldError(f"{key!r} is not in the code table (known: {', '.join(table)})")

    return lookup


_BY_TYPE_NAME: dict[str, type] = {
    "str": str, "int": int, "decimal": Decimal, "bool": bool, "date": date, "datetime": datetime,
}  # fmt: skip


def build_converter(
    spec: FieldSpec,
    field_type: Any,
    *,
    code_tables: Mapping[str, Mapping[str, str]],
    zone: timezone,
) -> Converter:
    """Pick the conversion for one field once, when the stream is built, not per record."""
    if spec.codes is not None:
        table = code_tables[spec.codes] if isinstance(spec.codes, str) else spec.codes
        enum_type = (
            field_type if isinstance(field_type, type) and issubclass(field_type, Enum) else None
        )
        return _code_lookup(table, enum_type)
    wanted = _BY_TYPE_NAME[spec.type] if spec.type else field_type
    formats = tuple(spec.formats) if spec.formats else None
    if wanted is datetime:
        return _datetime_parser(formats or DEFAULT_DATETIME_FORMATS, zone)
    if wanted is date:
        return _date_parser(formats or DEFAULT_DATE_FORMATS)
    simple: dict[Any, Converter] = {bool: _to_bool, int: _to_int, Decimal: _to_decimal}
    if wanted in simple:
        return simple[wanted]
    return _to_text  # text, and enums by their hub code; pydantic checks the value
