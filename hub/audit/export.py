"""Streams the audit trail as JSON Lines (checkpoints interleaved) or CSV, without loading it.

Chain by chain (oldest chain first), events in sequence order; in JSON Lines each signed
checkpoint follows the event it covers, as a line with `"type": "checkpoint"` (its JWS and
the key that verifies it; hub/audit/checkpoints.py), so an export can be verified on its
own, offline: `hub audit verify --export FILE --checkpoints FILE`. Event lines hold the
`audit_events` columns, exactly what each event's hash covers.

`--from`/`--to` pick, per chain, the run of events from the first at or after `from` to the
last before `to`: always an unbroken run of the chain, so the export verifies.
CSV (for spreadsheets) carries the events only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.audit.checkpoints import CheckpointLine
from hub.storage.models import AuditChain, AuditCheckpoint, AuditEvent

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
    if fmt == "csv":
        yield _csv_line(COLUMNS)
    async with engine.connect() as connection:
        chains = await connection.scalars(
            select(AuditChain.chain_id).order_by(AuditChain.started_at, AuditChain.chain_id)
        )
        for chain_id in list(chains):
            span = await _span(connection, chain_id, start=start, end=end)
            if span is None:
                continue
            checkpoints = [] if fmt == "csv" else await _checkpoints(connection, chain_id, span)
            async for line in _chain_lines(connection, chain_id, span, checkpoints, fmt=fmt):
                yield line


async def _span(
    connection: AsyncConnection, chain_id: str, *, start: datetime | None, end: datetime | None
) -> tuple[int, int] | None:
    """The first and last seq of the chain's events within [start, end)."""
    first = select(func.min(AuditEvent.seq)).where(AuditEvent.chain_id == chain_id)
    last = select(func.max(AuditEvent.seq)).where(AuditEvent.chain_id == chain_id)
    if start is not None:
        first, last = first.where(AuditEvent.at >= start), last.where(AuditEvent.at >= start)
    if end is not None:
        first, last = first.where(AuditEvent.at < end), last.where(AuditEvent.at < end)
    low, high = await connection.scalar(first), await connection.scalar(last)
    return None if low is None or high is None else (low, high)


async def _checkpoints(
    connection: AsyncConnection, chain_id: str, span: tuple[int, int]
) -> list[CheckpointLine]:
    query = (
        select(AuditCheckpoint.jws, AuditCheckpoint.jwk)
        .where(AuditCheckpoint.chain_id == chain_id, AuditCheckpoint.seq.between(*span))
        .order_by(AuditCheckpoint.seq)
    )
    return [CheckpointLine.parse(row._mapping) for row in await connection.execute(query)]


async def _chain_lines(
    connection: AsyncConnection,
    chain_id: str,
    span: tuple[int, int],
    checkpoints: list[CheckpointLine],
    *,
    fmt: Format,
) -> AsyncIterator[str]:
    query = (
        select(AuditEvent.__table__)
        .where(AuditEvent.chain_id == chain_id, AuditEvent.seq.between(*span))
        .order_by(AuditEvent.seq, AuditEvent.id)
    )
    pending = iter(checkpoints)
    waiting = next(pending, None)
    async for row in await connection.stream(query):
        mapping = row._mapping
        if fmt == "csv":
            yield _csv_line([_cell(mapping[name]) for name in COLUMNS])
            continue
        document = {name: mapping[name] for name in COLUMNS}
        yield orjson.dumps(document, option=orjson.OPT_UTC_Z).decode() + "\n"
        while waiting is not None and waiting.claims.seq <= mapping["seq"]:
            yield waiting.json_line().decode()
            waiting = next(pending, None)


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()
