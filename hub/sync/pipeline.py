"""The per-batch write path: prepare, write, then release or quarantine each record.

`ingest_records` runs inside the caller's transaction. With `isolate=True` each record is
written in a SAVEPOINT of its own and flushed at once: a record the database refuses
(something the mapping's range checks did not foresee) is rolled back alone and
quarantined as WRITE_ERROR while the rest of the batch goes on. The runner uses that mode
to write a batch again after it failed as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.crypto.store import session_ring
from hub.quarantine import Rejected, quarantine_records, release_records
from hub.storage.models import QuarantineReason
from hub.sync.batch import Lookups, Prepared, RejectedRecord, prepare
from hub.sync.context import StreamContext
from hub.sync.results import BatchResult, Counts
from hub.sync.writer import Outcome, Writer


async def ingest_records(
    session: AsyncSession,
    context: StreamContext,
    raws: Sequence[dict[str, Any]],
    *,
    started_at: datetime,
    isolate: bool = False,
) -> BatchResult:
    """The pipeline for one batch, inside the caller's transaction; exact counts and outcomes."""
    items = [prepare(context, raw, started_at=started_at) for raw in raws]
    fields = await session_ring(session)
    lookups = await Lookups.load(session, context, items, fields)
    writer = Writer(session, context, lookups, fields)
    if isolate:
        await _begin_writing(session)
    counts = Counts(read=len(items))
    final: dict[str, Rejected | None] = {}  # per key, how its last occurrence in the batch ended
    movers: list[bool] = []
    outcomes: list[str] = []
    for item in items:
        try:
            outcome = await (
                _write_alone(session, writer, item) if isolate else _write(writer, item)
            )
        except RejectedRecord as rejection:
            counts.quarantined += 1
            counts.reasons[rejection.reason.value] += 1
            final[item.key] = _rejected(item, rejection)
            movers.append(False)
            outcomes.append(rejection.reason.value)
            continue
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        outcomes.append(outcome)
        final[item.key] = None
        assert item.mapped is not None
        movers.append(item.mapped.source_updated_at <= started_at)
    names = {"connector": context.connector, "stream": context.stream}
    await session.flush()
    await release_records(session, **names, keys=[k for k, r in final.items() if r is None])
    rejected = [r for r in final.values() if r is not None]
    await quarantine_records(session, **names, rejected=rejected, fields=fields)
    return BatchResult(counts, rejected, movers, outcomes)


async def _write(writer: Writer, item: Prepared) -> Outcome:
    if item.rejection is not None:
        raise item.rejection
    assert item.mapped is not None
    return await writer.write(item.mapped, item.id_number)


async def _write_alone(session: AsyncSession, writer: Writer, item: Prepared) -> Outcome:
    """One record in a savepoint: refused by the database, it alone is rolled back."""
    if item.rejection is not None:
        raise item.rejection
    mark = writer.lookups.mark()
    try:
        async with session.begin_nested():
            outcome = await _write(writer, item)
            await session.flush()
    except StatementError as error:
        if not record_level(error):
            raise
        writer.lookups.undo(mark)
        raise RejectedRecord(
            QuarantineReason.WRITE_ERROR,
            f"the database refused this record: {_first_line(error)}",
            {"error": type(error.orig or error).__name__},
        ) from None
    return outcome


# SQLSTATE classes of a record's own fault: data exception, integrity constraint, program
# limit (a value too large to index), raised by a trigger (PL/pgSQL RAISE)
_RECORD_SQLSTATES = frozenset({"22", "23", "54", "P0"})


def record_level(error: StatementError) -> bool:
    """This record's values were refused (not the database failing): quarantine it alone."""
    if not isinstance(error, DBAPIError):
        return True  # a value that could not even be bound
    if isinstance(error, DataError | IntegrityError):
        return True
    state = str(getattr(error.orig, "sqlstate", None) or "")
    return state[:2] in _RECORD_SQLSTATES


async def _begin_writing(session: AsyncSession) -> None:
    # pysqlite opens its transaction only at the first write; a SAVEPOINT issued before
    # that becomes the outermost transaction, and releasing it would commit (SQLAlchemy's
    # pysqlite notes). A write that changes nothing opens it first; elsewhere a no-op.
    await session.execute(text("UPDATE quarantine SET attempts = attempts WHERE 1 = 0"))


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return (text.splitlines() or [type(error).__name__])[0][:300]


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
