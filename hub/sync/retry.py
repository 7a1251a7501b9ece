"""`hub quarantine retry`: quarantined payloads run through the mapping and pipeline again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.config import ConnectorsConfig
from hub.storage.models import QuarantinedRecord
from hub.storage.session import create_sessionmaker
from hub.sync.context import StreamContext, stream_context
from hub.sync.locks import stream_lock
from hub.sync.pipeline import ingest_records


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
    batch_size: int = 500,
) -> RetrySummary:
    """Run quarantined payloads through the mapping and pipeline again; accepted ones leave quarantine."""
    summary = RetrySummary()
    for name, stream in await _quarantined_streams(engine, connector):
        context = stream_context(config, name, stream)
        if context is None:
            summary.skipped_streams.append(f"{name}/{stream}: no longer configured")
            continue
        async with stream_lock(engine, name, stream) as acquired:
            if not acquired:
                summary.skipped_streams.append(f"{name}/{stream}: a sync is running")
                continue
            await _retry_stream(engine, context, summary, batch_size)
    return summary


async def _quarantined_streams(engine: AsyncEngine, connector: str | None) -> list[tuple[str, str]]:
    query = select(QuarantinedRecord.connector, QuarantinedRecord.stream).distinct()
    if connector is not None:
        query = query.where(QuarantinedRecord.connector == connector)
    async with create_sessionmaker(engine)() as session:
        return [
            (row[0], row[1])
            for row in await session.execute(query.order_by(QuarantinedRecord.connector))
        ]


async def _retry_stream(
    engine: AsyncEngine, context: StreamContext, summary: RetrySummary, batch_size: int
) -> None:
    sessionmaker = create_sessionmaker(engine)
    after_id = 0
    while True:
        async with sessionmaker() as session, session.begin():
            query = (
                select(QuarantinedRecord.id, QuarantinedRecord.payload)
                .where(QuarantinedRecord.connector == context.connector)
                .where(QuarantinedRecord.stream == context.stream)
                .where(QuarantinedRecord.id > after_id)
                .order_by(QuarantinedRecord.id)
                .limit(batch_size)
            )
            rows = (await session.execute(query)).all()
            if not rows:
                return
            after_id = rows[-1][0]
            counts = await ingest_records(session, context, [row[1] for row in rows])
        summary.retried += counts.read
        summary.resolved += counts.read - counts.quarantined
        summary.remaining += counts.quarantined
