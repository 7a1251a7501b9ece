"""Turn database and spreadsheet values into JSON, so raw records can be stored in quarantine as-is."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID


def to_json_value(value: Any) -> Any:
    """ISO text for times, text for decimals (no float rounding), whole floats as integers.

    JSON and array columns stay objects and lists (never a Python repr); infinities and NaN
    become text, which every JSON column accepts and no numeric field does.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(item) for item in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def encode_typed(value: Any) -> dict[str, Any]:
    """A cursor value that decodes back to its SQL type (drivers such as asyncpg bind strictly)."""
    for name, kind in _TYPES:
        if isinstance(value, kind):
            return {"type": name, "value": to_json_value(value)}
    return {"type": "str", "value": str(value)}


def decode_typed(data: dict[str, Any]) -> Any:
    kind, value = data["type"], data["value"]
    decoders: dict[str, Any] = {
        "datetime": datetime.fromisoformat, "date": date.fromisoformat, "decimal": Decimal,
        "int": int, "float": float, "str": str,
    }  # fmt: skip
    return decoders[kind](value)


# datetime before date: a datetime is a date too.
_TYPES: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("datetime", datetime), ("date", date), ("decimal", Decimal), ("int", int),
    ("float", float), ("str", str),
)  # fmt: skip
