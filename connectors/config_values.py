"""The value syntaxes of the connectors file: durations ("1h30m") and sizes ("16MiB")."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, Field

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_SIZE = re.compile(r"(\d+)\s*(B|KiB|MiB|GiB)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}


def parse_duration(value: object) -> object:
    """Accept `"15m"`, `"1h30m"`, `"2d"`, `"45s"` besides what pydantic takes for a timedelta."""
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if match and any(match.groups()):
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return value


def parse_size(value: object) -> object:
    """Accept `"16MiB"`, `"512KiB"`, `"1GiB"` or a number of bytes."""
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match:
        return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size), Field(ge=1)]
Fraction = Annotated[float, Field(ge=0, le=1)]
