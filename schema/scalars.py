"""Scalars stricter than strawberry's defaults: a date-time must say its time zone.

A date-time without an offset is ambiguous (which midnight?), and the hub stores UTC only;
refusing it at coercion makes it BAD_USER_INPUT naming the fix, instead of a failure deep in
the storage layer. Same name and description as strawberry's, so the SDL does not change.
"""

from __future__ import annotations

import datetime as dt

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition


def parse_aware_datetime(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{value}". Expected a string.'
        )
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{value[:64]}". Use ISO 8601.'
        ) from None
    if parsed.tzinfo is None:
        raise StrawberryInputCoercionError(
            f'DateTime "{value[:64]}" has no time zone; add an offset, e.g. '
            "2026-01-01T08:00:00+08:00 or 2026-01-01T00:00:00Z"
        )
    return parsed


AWARE_DATETIME = ScalarDefinition(
    name=DateTimeDefinition.name,
    description=DateTimeDefinition.description,
    specified_by_url=DateTimeDefinition.specified_by_url,
    serialize=DateTimeDefinition.serialize,
    parse_value=parse_aware_datetime,
    parse_literal=None,
    origin=dt.datetime,
)

SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {dt.datetime: AWARE_DATETIME}
