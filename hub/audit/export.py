"""Streams audit events as JSON Lines or CSV, in chain order, without loading them all."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.models import AuditEvent

COLUMNS = [column.name for column in AuditEvent.__table__.columns]
Format = Literal["jsonl", "csv"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return str(value)


async def export_events(
    engine: AsyncEngine,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    fmt: Format = "jsonl",
) -> AsyncIterator[str]:
    """Lines of text (newline-terminated), a header first for CSV."""
    query = select(AuditEvent.__table__).order_by(AuditEvent.at, AuditEvent.id)
    if start is not None:
        query = query.where(AuditEvent.at >= start)
    if end is not None:
        query = query.where(AuditEvent.at < end)
    if fmt == "csv":
        yield _csv_line(COLUMNS)
    async with engine.connect() as connection:
        async for row in await connection.stream(query):
            mapping = row._mapping
            if fmt == "csv":
                yield _csv_line([_cell(mapping[name]) for name in COLUMNS])
            else:
                document = {name: mapping[name] for name in COLUMNS}
                yield orjson.dumps(document, option=orjson.OPT_UTC_Z).decode() + "\n"


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()
