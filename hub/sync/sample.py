"""`hub connectors check --sample N`: what a stream makes of its source's first page, writing nothing.

The first batch of each stream is read from the beginning (the cursor is not used, nor
moved), its first N records are mapped, and when the hub's database answers they go
through the whole pipeline inside a transaction that is rolled back: the outcome of each
record (inserted, updated, unchanged or its quarantine reason) is what a run would do,
and the rejection limits say whether the run would fail. Without a database the
records are only mapped and checked, and resident matching is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.base import Source, Stream
from connectors.errors import ConnectorError
from hub.storage.base import utcnow
from hub.storage.session import create_sessionmaker
from hub.sync.batch import Prepared, prepare
from hub.sync.context import StreamContext
from hub.sync.limits import TooManyRejectionsError, check_rejections
from hub.sync.pipeline import ingest_records
from hub.sync.results import Counts


@dataclass(frozen=True)
class SampledRecord:
    key: str
    outcome: str  # inserted, updated, unchanged, or a QuarantineReason; "mapped" without a database
    message: str | None = None
    mapped: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "outcome": self.outcome,
            "message": self.message,
            "mapped": self.mapped,
        }


@dataclass
class StreamSample:
    connector: str
    stream: str
    records: list[SampledRecord] = field(default_factory=list)
    verdict: str | None = None  # why a run would fail on these records
    error: str | None = None  # the first page could not be read
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector, "stream": self.stream, "error": self.error,
            "verdict": self.verdict, "note": self.note,
            "records": [record.as_dict() for record in self.records],
        }  # fmt: skip


async def sample_source(
    engine: AsyncEngine | None, source: Source, *, count: int
) -> list[StreamSample]:
    """Open the source and sample each of its streams."""
    try:
        await source.open()
    except ConnectorError as error:
        await source.close()
        return [StreamSample(source.name, name, error=str(error)) for name in source.streams]
    try:
        return [await _sample(engine, source, stream, count) for stream in source.streams.values()]
    finally:
        await source.close()


async def _sample(
    engine: AsyncEngine | None, source: Source, stream: Stream[Any], count: int
) -> StreamSample:
    sample = StreamSample(source.name, stream.name)
    batches = stream.read(None)
    try:
        first = await anext(batches, None)
    except ConnectorError as error:
        sample.error = str(error)
        return sample
    finally:
        close = getattr(batches, "aclose", None)  # an async generator: release its page/file
        if close is not None:
            await close()
    raws = first.records[:count] if first else []
    context, started = StreamContext.of(source, stream), utcnow()
    items = [prepare(context, raw, started_at=started) for raw in raws]
    outcomes = await _pipeline(engine, context, raws, sample) if engine else None
    if outcomes is None:
        sample.note = sample.note or "mapped only: resident matching needs the hub's database"
        outcomes = [i.rejection.reason.value if i.rejection else "mapped" for i in items]
    sample.records = [_record(item, outcome) for item, outcome in zip(items, outcomes, strict=True)]
    return sample


async def _pipeline(
    engine: AsyncEngine, context: StreamContext, raws: list[dict[str, Any]], sample: StreamSample
) -> list[str] | None:
    """Each record's outcome in a transaction that is always rolled back; None without a database."""
    session = create_sessionmaker(engine)()
    try:
        await session.begin()
        result = await ingest_records(session, context, raws, started_at=utcnow())
        try:
            check_rejections(context, result, Counts())
        except TooManyRejectionsError as error:
            sample.verdict = str(error)
        return result.outcomes
    except SQLAlchemyError as error:
        sample.note = f"mapped only: the hub's database did not answer ({type(error).__name__})"
        return None
    finally:
        await session.rollback()
        await session.close()


def _record(item: Prepared, outcome: str) -> SampledRecord:
    message = item.rejection.message if item.rejection else None
    mapped = None
    if item.mapped is not None:
        mapped = {
            "source_record_id": item.mapped.source_record_id,
            "source_updated_at": item.mapped.source_updated_at.isoformat(),
            **item.mapped.record.model_dump(mode="json", exclude_none=True),
        }
        if item.mapped.resident is not None:
            mapped["resident"] = item.mapped.resident.model_dump(mode="json", exclude_none=True)
    return SampledRecord(item.key, outcome, message, mapped)
