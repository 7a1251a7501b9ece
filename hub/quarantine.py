"""Quarantine: records a connector could not accept, kept with their reason and raw payload.

The payload is a department's raw record — ID and phone numbers included — so it is stored
sealed (hub/crypto); `hub quarantine list --json` and `retry` open it.

Rows are keyed by (connector, stream, record_key) — the source record id when the payload
yields one, else a hash of the payload — so reading the same bad record again updates its
row, and a record that is later accepted (by a new sync or `hub quarantine retry`) is
released from quarantine in the same transaction that writes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.crypto.columns import seal_payload
from hub.crypto.ring import KeyRing
from hub.storage.base import utcnow
from hub.storage.models import QuarantinedRecord, QuarantineReason


@dataclass(frozen=True)
class Rejected:
    """One refused record, as the pipeline hands it to quarantine."""

    record_key: str
    source_record_id: str | None
    reason: QuarantineReason
    message: str
    detail: Any
    payload: dict[str, Any]


KEY_LENGTH = 128  # the record_key and source_record_id columns


def record_key(source_record_id: str | None, payload: dict[str, Any]) -> str:
    """The source record id, else a stable hash of the payload (the same bad row keeps one key).

    An id that would not fit its column (too long, control characters) is never cut to fit:
    two such ids would share a key. The mapping refuses them, so they arrive here as None.
    """
    if source_record_id and len(source_record_id) <= KEY_LENGTH:
        return source_record_id
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    # surrogatepass: a payload may hold unpaired surrogates (JSON `\ud800` escapes)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


async def quarantine_records(
    session: AsyncSession,
    *,
    connector: str,
    stream: str,
    rejected: Sequence[Rejected],
    fields: KeyRing,
) -> None:
    """Insert or refresh one row per record key (the last rejection of a key in a batch wins)."""
    latest = {item.record_key: item for item in rejected}
    if not latest:
        return
    query = select(QuarantinedRecord).where(
        QuarantinedRecord.connector == connector,
        QuarantinedRecord.stream == stream,
        QuarantinedRecord.record_key.in_(latest),
    )
    existing = {row.record_key: row for row in (await session.scalars(query))}
    now = utcnow()
    for key, item in latest.items():
        row = existing.get(key)
        payload = seal_payload(fields, item.payload)
        if row is None:
            session.add(_new_row(connector, stream, item, payload, now))
        else:
            _refresh(row, item, payload, now)


def _new_row(
    connector: str, stream: str, item: Rejected, payload: bytes, now: datetime
) -> QuarantinedRecord:
    return QuarantinedRecord(
        connector=connector,
        stream=stream,
        record_key=item.record_key,
        source_record_id=item.source_record_id,
        reason=item.reason,
        message=item.message,
        detail=item.detail,
        payload_encrypted=payload,
        attempts=1,
        first_seen_at=now,
        last_seen_at=now,
    )


def _refresh(row: QuarantinedRecord, item: Rejected, payload: bytes, now: datetime) -> None:
    row.reason, row.message, row.detail = item.reason, item.message, item.detail
    row.payload_encrypted, row.source_record_id = payload, item.source_record_id
    row.attempts += 1
    row.last_seen_at = now


async def release_records(
    session: AsyncSession, *, connector: str, stream: str, keys: Sequence[str]
) -> None:
    """Drop the rows of records that have now been accepted."""
    if not keys:
        return
    await session.execute(
        delete(QuarantinedRecord).where(
            QuarantinedRecord.connector == connector,
            QuarantinedRecord.stream == stream,
            QuarantinedRecord.record_key.in_(set(keys)),
        )
    )


@dataclass(frozen=True)
class QuarantineFilter:
    """Which quarantined records a command means; None matches any."""

    connector: str | None = None
    stream: str | None = None
    reason: QuarantineReason | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """WHERE clauses for the quarantine table (none: every row)."""
        conditions = []
        if self.connector is not None:
            conditions.append(QuarantinedRecord.connector == self.connector)
        if self.stream is not None:
            conditions.append(QuarantinedRecord.stream == self.stream)
        if self.reason is not None:
            conditions.append(QuarantinedRecord.reason == self.reason)
        return conditions


async def list_quarantine(
    session: AsyncSession,
    *,
    connector: str | None = None,
    stream: str | None = None,
    reason: QuarantineReason | None = None,
    after: int = 0,
    limit: int | None = None,
) -> Sequence[QuarantinedRecord]:
    """Rows in id order after the id `after` (pages: pass the last id shown)."""
    which = QuarantineFilter(connector, stream, reason)
    query = select(QuarantinedRecord).where(QuarantinedRecord.id > after, *which.conditions())
    query = query.order_by(QuarantinedRecord.id)
    if limit is not None:
        query = query.limit(limit)
    return (await session.scalars(query)).all()


async def count_quarantine(session: AsyncSession, *, connector: str, stream: str) -> int:
    query = select(func.count()).where(
        QuarantinedRecord.connector == connector, QuarantinedRecord.stream == stream
    )
    return int((await session.execute(query)).scalar_one())
