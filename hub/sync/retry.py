"""`hub quarantine retry`: quarantined payloads run through the mapping and pipeline again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from connectors.config import ConnectorsConfig
from hub.crypto.columns import open_payload
from hub.crypto.store import session_ring
from hub.quarantine import QuarantineFilter
from hub.storage.base import utcnow
from hub.storage.models import QuarantinedRecord, QuarantineReason
from hub.storage.session import create_sessionmaker
from hub.sync.context import StreamContext, stream_context
from hub.sync.locks import stream_lock
from hub.sync.pipeline import ingest_records
from hub.sync.results import Counts


@dataclass
class RetrySummary:
    retried: int = 0
    resolved: int = 0
    remaining: int = 0
    skipped_streams: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "retried": self.retried, "resolved": self.resolved, "remaining": self.remaining,
            "skipped_streams": self.skipped_streams,
        }  # fmt: skip


async def retry_quarantine(
    engine: AsyncEngine,
    config: ConnectorsConfig,
    *,
    connector: str | None = None,
    stream: str | None = None,
    reason: QuarantineReason | None = None,
    batch_size: int = 500,
) -> RetrySummary:
    """Run quarantined payloads through the mapping and pipeline again; accepted ones leave quarantine.

    The filters choose which (connector, stream, reason); records that fail again stay with
    their new reason. A record that the database refuses alone stays as WRITE_ERROR.
    """
    summary = RetrySummary()
    which = QuarantineFilter(connector, stream, reason)
    for name, stream_name in await _quarantined_streams(engine, which):
        context = stream_context(config, name, stream_name)
        if context is None:
            summary.skipped_streams.append(f"{name}/{stream_name}: no longer configured")
            continue
        async with stream_lock(engine, name, stream_name) as acquired:
            if not acquired:
                summary.skipped_streams.append(f"{name}/{stream_name}: a sync is running")
                continue
            await _retry_stream(engine, context, which, summary, batch_size)
    return summary


async def _quarantined_streams(
    engine: AsyncEngine, which: QuarantineFilter
) -> list[tuple[str, str]]:
    columns = (QuarantinedRecord.connector, QuarantinedRecord.stream)
    query = select(*columns).where(*which.conditions()).distinct()
    async with create_sessionmaker(engine)() as session:
        return [
            (row[0], row[1])
            for row in await session.execute(query.order_by(QuarantinedRecord.connector))
        ]


async def _retry_stream(
    engine: AsyncEngine,
    context: StreamContext,
    which: QuarantineFilter,
    summary: RetrySummary,
    batch_size: int,
) -> None:
    sessionmaker = create_sessionmaker(engine)
    after_id = 0
    while True:
        query = (
            select(QuarantinedRecord.id, QuarantinedRecord.payload_encrypted)
            .where(*which.conditions())
            .where(QuarantinedRecord.connector == context.connector)
            .where(QuarantinedRecord.stream == context.stream)
            .where(QuarantinedRecord.id > after_id)
            .order_by(QuarantinedRecord.id)
            .limit(batch_size)
        )
        async with sessionmaker() as session:
            rows = (await session.execute(query)).all()
            fields = await session_ring(session)
        if not rows:
            return
        after_id = rows[-1][0]
        payloads = [open_payload(fields, row[1]) for row in rows]
        try:
            counts = await _retry_batch(sessionmaker, context, payloads, isolate=False)
        except SQLAlchemyError:
            counts = await _retry_batch(sessionmaker, context, payloads, isolate=True)
        summary.retried += counts.read
        summary.resolved += counts.read - counts.quarantined
        summary.remaining += counts.quarantined


async def _retry_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    context: StreamContext,
    payloads: list[dict[str, Any]],
    *,
    isolate: bool,
) -> Counts:
    async with sessionmaker() as session, session.begin():
        result = await ingest_records(
            session, context, payloads, started_at=utcnow(), isolate=isolate
        )
    return result.counts
