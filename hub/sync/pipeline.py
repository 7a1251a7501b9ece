"""The per-batch write path: prepare, write, then release or quarantine each record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.quarantine import Rejected, quarantine_records, release_records
from hub.sync.batch import Lookups, Prepared, RejectedRecord, prepare
from hub.sync.context import StreamContext
from hub.sync.results import Counts
from hub.sync.writer import Outcome, Writer


async def ingest_records(
    session: AsyncSession, context: StreamContext, raws: Sequence[dict[str, Any]]
) -> Counts:
    """The pipeline for one batch, inside the caller's transaction; returns exact counts."""
    items = [prepare(context, raw) for raw in raws]
    lookups = await Lookups.load(session, context, items)
    writer = Writer(session, context, lookups)
    counts = Counts(read=len(items))
    final: dict[str, Rejected | None] = {}  # per key, how its last occurrence in the batch ended
    for item in items:
        try:
            outcome = await _write(writer, item)
        except RejectedRecord as rejection:
            counts.quarantined += 1
            final[item.key] = _rejected(item, rejection)
            continue
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        final[item.key] = None
    names = {"connector": context.connector, "stream": context.stream}
    await session.flush()
    await release_records(session, **names, keys=[k for k, r in final.items() if r is None])
    rejected = [r for r in final.values() if r is not None]
    await quarantine_records(session, **names, rejected=rejected)
    return counts


async def _write(writer: Writer, item: Prepared) -> Outcome:
    if item.rejection is not None:
        raise item.rejection
    assert item.mapped is not None
    assert item.id_number is not None
    return await writer.write(item.mapped, item.id_number)


def _rejected(item: Prepared, rejection: RejectedRecord) -> Rejected:
    source_record_id = item.mapped.source_record_id if item.mapped else None
    if source_record_id is None and not item.key.startswith("sha256:"):
        source_record_id = item.key
    return Rejected(
        record_key=item.key,
        source_record_id=source_record_id,
        reason=rejection.reason,
        message=rejection.message,
        detail=rejection.detail,
        payload=item.raw,
    )
