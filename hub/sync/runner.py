"""Runs connector streams and is the only writer of what they read.

Per batch: map and validate each raw record → normalise its ID number → resolve the
resident (creating streams create or update residents) → upsert by (source,
source_record_id), never letting an older `source_updated_at` overwrite newer data →
quarantine what cannot be accepted → store the stream's new cursor and the run's counts —
all in ONE transaction. A process killed anywhere resumes from the last committed cursor;
upserts are idempotent, so a batch read again after a crash changes nothing twice.

A stream runs under a lock (a PostgreSQL session advisory lock, so replicas never run the
same stream at once; a process-local lock on SQLite); a stream whose lock is held is
recorded as SKIPPED. `SyncScheduler` runs due streams in the background of `hub serve`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from connectors.base import Batch, Cursor, Source, Stream
from connectors.config import ConnectorsConfig, load_config
from connectors.errors import BadRecordError, ConfigError, ConnectorError, FatalError
from connectors.mapping import MappedRecord, RecordMapping, parse_timezone
from connectors.registry import build_source, select_connectors
from connectors.targets import ResidentFields
from hub.config import Settings
from hub.identity import IdNumberError, birth_date_of, gender_of, normalize_id_number
from hub.quarantine import Rejected, quarantine_records, record_key, release_records
from hub.storage.base import utcnow
from hub.storage.models import (
    AssistanceGrant,
    ChronicCondition,
    ConnectorRun,
    ConnectorState,
    FamilyDoctorContract,
    Grid,
    Household,
    HouseholdRegistration,
    InsuranceEnrollment,
    PersonFlag,
    QuarantinedRecord,
    QuarantineReason,
    ResidencePermit,
    Resident,
    RunStatus,
    SchoolEnrollment,
    SourceRecord,
    Vaccination,
)
from hub.storage.session import create_sessionmaker

log = logging.getLogger("hub.sync")

# One line per target named in connectors/targets.py.
TARGET_MODELS: dict[str, type[SourceRecord]] = {
    "family_doctor_contract": FamilyDoctorContract,
    "vaccination": Vaccination,
    "chronic_condition": ChronicCondition,
    "insurance_enrollment": InsuranceEnrollment,
    "assistance_grant": AssistanceGrant,
    "school_enrollment": SchoolEnrollment,
    "household_registration": HouseholdRegistration,
    "residence_permit": ResidencePermit,
    "person_flag": PersonFlag,
}

Outcome = Literal["inserted", "updated", "unchanged"]


@dataclass
class Counts:
    """Per-run tallies; `read` always equals the sum of the other four."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0

    def add(self, other: Counts) -> None:
        for name in ("read", "inserted", "updated", "unchanged", "quarantined"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read, "inserted": self.inserted, "updated": self.updated,
            "unchanged": self.unchanged, "quarantined": self.quarantined,
        }  # fmt: skip


@dataclass(frozen=True)
class RunSummary:
    connector: str
    stream: str
    status: RunStatus
    counts: Counts
    error: str | None = None
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector, "stream": self.stream, "status": self.status.value,
            "error": self.error, "run_id": self.run_id, **self.counts.as_dict(),
        }  # fmt: skip


ProgressCallback = Callable[[str, str, Counts], None]


# --- the per-record pipeline ----------------------------------------------------------------


@dataclass(frozen=True)
class StreamContext:
    """What the pipeline needs to know about a stream (built from a Source, or from config for retry)."""

    connector: str
    stream: str
    source: str
    model: type[SourceRecord]
    mapping: RecordMapping

    @classmethod
    def of(cls, source: Source, stream: Stream[Any]) -> StreamContext:
        model = TARGET_MODELS[stream.config.target]
        return cls(source.name, stream.name, source.source, model, stream.mapping)


class RejectedRecord(Exception):
    """Raised inside the pipeline for a record that goes to quarantine."""

    def __init__(self, reason: QuarantineReason, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.detail = reason, message, detail


@dataclass
class Prepared:
    raw: dict[str, Any]
    key: str
    mapped: MappedRecord | None = None
    id_number: str | None = None
    rejection: RejectedRecord | None = None


def prepare(context: StreamContext, raw: dict[str, Any]) -> Prepared:
    """Map, validate and normalise the ID number; failures become a rejection, not an exception."""
    item = Prepared(raw, record_key(context.mapping.record_key(raw), raw))
    try:
        item.mapped = context.mapping.apply(raw)
        item.id_number = normalize_id_number(item.mapped.id_number)
    except BadRecordError as error:
        item.rejection = RejectedRecord(QuarantineReason.SCHEMA_ERROR, str(error), error.errors)
    except IdNumberError as error:
        # The message names the part at fault, never the number (it is PII).
        detail = {"reason": error.reason.value, "detail": error.detail}
        message = f"invalid ID number: {error.reason.value} ({error.detail})"
        item.rejection = RejectedRecord(QuarantineReason.INVALID_ID_NUMBER, message, detail)
    return item


@dataclass
class Lookups:
    """Everything a batch refers to, fetched in a few queries and kept current as it is written."""

    residents: dict[str, Resident] = field(default_factory=dict)
    records: dict[str, SourceRecord] = field(default_factory=dict)
    grids: dict[str, Grid] = field(default_factory=dict)
    households: dict[str, Household] = field(default_factory=dict)

    @classmethod
    async def load(
        cls, session: AsyncSession, context: StreamContext, items: Sequence[Prepared]
    ) -> Lookups:
        good = [i for i in items if i.mapped is not None and i.id_number is not None]
        numbers = {i.id_number for i in good}
        ids = {i.mapped.source_record_id for i in good if i.mapped}
        model = context.model
        lookups = cls()
        query = select(Resident).where(Resident.id_number.in_(numbers))
        lookups.residents = {r.id_number: r for r in await session.scalars(query)}
        records = select(model).where(
            model.source == context.source, model.source_record_id.in_(ids)
        )
        lookups.records = {r.source_record_id: r for r in await session.scalars(records)}
        residents = [i.mapped.resident for i in good if i.mapped and i.mapped.resident]
        await lookups._load_places(session, residents)
        return lookups

    async def _load_places(self, session: AsyncSession, residents: list[ResidentFields]) -> None:
        codes = {r.grid_code for r in residents if r.grid_code}
        numbers = {r.household_number for r in residents if r.household_number}
        if codes:
            self.grids = {
                g.code: g for g in await session.scalars(select(Grid).where(Grid.code.in_(codes)))
            }
        if numbers:
            query = select(Household).where(Household.number.in_(numbers))
            self.households = {h.number: h for h in await session.scalars(query)}


class Writer:
    """Applies prepared records of one batch to the session; the caller commits."""

    def __init__(self, session: AsyncSession, context: StreamContext, lookups: Lookups) -> None:
        self.session, self.context, self.lookups = session, context, lookups

    async def write(self, mapped: MappedRecord, id_number: str) -> Outcome:
        existing = self.lookups.records.get(mapped.source_record_id)
        resident = self.lookups.residents.get(id_number)
        if existing is not None:
            return await self._update(existing, resident, mapped)
        if self.context.mapping.creates_residents:
            resident = await self._upsert_resident(resident, id_number, mapped.resident)
        elif resident is None:
            raise RejectedRecord(
                QuarantineReason.UNMATCHED_RESIDENT,
                "no resident has this ID number; it is retried once the police register creates them",
            )
        self._insert(resident, mapped)
        return "inserted"

    async def _update(
        self, existing: SourceRecord, resident: Resident | None, mapped: MappedRecord
    ) -> Outcome:
        if resident is None or existing.resident_id != resident.id:
            raise RejectedRecord(
                QuarantineReason.CONFLICT,
                f"source record {mapped.source_record_id} already belongs to another resident; "
                "the source changed whom it is about",
            )
        if mapped.source_updated_at <= existing.source_updated_at:
            return "unchanged"  # stale or the same version: never overwrite newer data
        if self.context.mapping.creates_residents:
            await self._upsert_resident(resident, resident.id_number, mapped.resident)
        for name, value in mapped.record.model_dump().items():
            setattr(existing, name, value)
        existing.source_updated_at = mapped.source_updated_at
        existing.ingested_at = utcnow()
        return "updated"

    def _insert(self, resident: Resident, mapped: MappedRecord) -> None:
        row = self.context.model(
            source=self.context.source,
            source_record_id=mapped.source_record_id,
            source_updated_at=mapped.source_updated_at,
            ingested_at=utcnow(),
            resident_id=resident.id,
            **mapped.record.model_dump(),
        )
        self.session.add(row)
        self.lookups.records[mapped.source_record_id] = row

    async def _upsert_resident(
        self, resident: Resident | None, id_number: str, fields: ResidentFields | None
    ) -> Resident:
        fields = fields or ResidentFields()
        grid = self._grid(fields.grid_code) if fields.grid_code else None
        if resident is None:
            _require_fields_to_create(fields, grid)
        household = None
        if fields.household_number and grid is not None:
            household = await self._household(fields.household_number, fields, grid)
        if resident is None:
            assert grid is not None
            resident = self._new_resident(id_number, fields, grid, household)
            # No ORM relationship orders the INSERTs, and foreign keys are checked per
            # statement: write the resident before the records that point at it.
            await self.session.flush()
        else:
            _update_resident(resident, fields, grid)
            if household is not None:
                resident.household_id = household.id
        return resident

    def _grid(self, code: str) -> Grid:
        grid = self.lookups.grids.get(code)
        if grid is None:
            raise RejectedRecord(
                QuarantineReason.CONFLICT,
                f"unknown grid code {code}; add the grid or fix the source's building code",
                {"grid_code": code},
            )
        return grid

    def _new_resident(
        self, id_number: str, fields: ResidentFields, grid: Grid, household: Household | None
    ) -> Resident:
        assert fields.name is not None
        resident = Resident(
            id=str(uuid.uuid4()),
            id_number=id_number,
            name=fields.name,
            gender=fields.gender or gender_of(id_number),
            birth_date=fields.birth_date or birth_date_of(id_number),
            phone=fields.phone,
            address=fields.address,
            household_id=household.id if household else None,
            grid_code=grid.code,
            grid_path=grid.path,
        )
        self.session.add(resident)
        self.lookups.residents[id_number] = resident
        return resident

    async def _household(self, number: str, fields: ResidentFields, grid: Grid) -> Household:
        household = self.lookups.households.get(number)
        if household is None:
            address = fields.household_address or fields.address or ""
            household = Household(
                id=str(uuid.uuid4()), number=number, address=address, grid_code=grid.code
            )
            self.session.add(household)
            self.lookups.households[number] = household
            await self.session.flush()  # before the residents that point at it
        return household


def _require_fields_to_create(fields: ResidentFields, grid: Grid | None) -> None:
    missing = [n for n, v in (("name", fields.name), ("grid_code", grid)) if v is None]
    if missing:
        errors = [
            {"loc": ["resident", n], "type": "missing", "msg": "required to create a resident"}
            for n in missing
        ]
        raise RejectedRecord(QuarantineReason.SCHEMA_ERROR, "cannot create the resident", errors)


def _update_resident(resident: Resident, fields: ResidentFields, grid: Grid | None) -> None:
    """Apply what the record says; absent values keep what the hub holds."""
    for name in ("name", "gender", "birth_date", "phone", "address"):
        value = getattr(fields, name)
        if value is not None and getattr(resident, name) != value:
            setattr(resident, name, value)
    if grid is not None and resident.grid_code != grid.code:
        resident.grid_code, resident.grid_path = grid.code, grid.path


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


# --- runs, state and locks ------------------------------------------------------------------

_LOCAL_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}
_LOCAL_LOCKS_GUARD = threading.Lock()


def advisory_lock_key(connector: str, stream: str) -> int:
    """A stable signed 64-bit key per stream (pg advisory locks take a bigint)."""
    digest = hashlib.sha256(f"gridhub.sync:{connector}/{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@asynccontextmanager
async def stream_lock(engine: AsyncEngine, connector: str, stream: str) -> AsyncIterator[bool]:
    """Yield whether this process now runs the stream alone; never waits for a held lock."""
    if engine.dialect.name == "postgresql":
        async with _advisory_lock(engine, advisory_lock_key(connector, stream)) as acquired:
            yield acquired
        return
    with _LOCAL_LOCKS_GUARD:
        lock = _LOCAL_LOCKS.setdefault((str(engine.url), connector, stream), threading.Lock())
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


@asynccontextmanager
async def _advisory_lock(engine: AsyncEngine, key: int) -> AsyncIterator[bool]:
    # A session lock on a connection held for the whole run: a run spans many transactions,
    # and the lock dies with the connection if the process does.
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        acquired = bool(result.scalar())
        await connection.commit()  # do not sit "idle in transaction" while holding the lock
        try:
            yield acquired
        finally:
            if acquired:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await connection.commit()


async def load_cursor(session: AsyncSession, *, connector: str, stream: str) -> Cursor | None:
    state = await session.get(ConnectorState, (connector, stream))
    return None if state is None else state.cursor


async def save_cursor(
    session: AsyncSession, *, connector: str, stream: str, cursor: Cursor
) -> None:
    state = await session.get(ConnectorState, (connector, stream))
    if state is None:
        session.add(
            ConnectorState(connector=connector, stream=stream, cursor=cursor, updated_at=utcnow())
        )
    else:
        state.cursor, state.updated_at = cursor, utcnow()


class StreamRun:
    """One recorded run of one stream: its row in connector_runs and the batches it writes."""

    def __init__(self, engine: AsyncEngine, context: StreamContext, *, full: bool) -> None:
        self.engine, self.context, self.full = engine, context, full
        self.sessionmaker = create_sessionmaker(engine)
        self.counts = Counts()
        self.run_id: int | None = None
        self.names = {"connector": context.connector, "stream": context.stream}

    async def start(self) -> Cursor | None:
        """Close runs a killed process left RUNNING, record this one, return the cursor to read from."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(ConnectorRun)
                .where(ConnectorRun.connector == self.context.connector)
                .where(ConnectorRun.stream == self.context.stream)
                .where(ConnectorRun.status == RunStatus.RUNNING)
                .values(
                    status=RunStatus.FAILED,
                    finished_at=utcnow(),
                    error="interrupted: the process ended mid-run",
                )
            )
            cursor = await load_cursor(session, **self.names)
            run = ConnectorRun(
                **self.names, status=RunStatus.RUNNING, full=self.full, cursor_before=cursor
            )
            run.started_at = utcnow()
            session.add(run)
            await session.flush()
            self.run_id = run.id
        return None if self.full else cursor

    async def write(self, batch: Batch) -> Counts:
        """One transaction: the batch's records, quarantine, the new cursor and the run's counts."""
        for attempt in (1, 2):
            try:
                return await self._write_once(batch)
            except IntegrityError:
                # Another stream created the same resident or household concurrently; the
                # second attempt sees its rows. A second failure is a real error.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _write_once(self, batch: Batch) -> Counts:
        async with self.sessionmaker() as session, session.begin():
            counts = await ingest_records(session, self.context, batch.records)
            await save_cursor(session, **self.names, cursor=batch.cursor)
            await session.execute(
                update(ConnectorRun)
                .where(ConnectorRun.id == self.run_id)
                .values(cursor_after=batch.cursor, **_increments(counts))
            )
        self.counts.add(counts)
        return counts

    async def finish(self, status: RunStatus, error: str | None = None) -> RunSummary:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(ConnectorRun)
                .where(ConnectorRun.id == self.run_id)
                .values(status=status, finished_at=utcnow(), error=error)
            )
        return RunSummary(
            **self.names, status=status, counts=self.counts, error=error, run_id=self.run_id
        )


def _increments(counts: Counts) -> dict[str, Any]:
    columns = ConnectorRun.__table__.c
    return {name: columns[name] + value for name, value in counts.as_dict().items()}


async def record_skipped(engine: AsyncEngine, context: StreamContext, reason: str) -> RunSummary:
    async with create_sessionmaker(engine)() as session, session.begin():
        now = utcnow()
        run = ConnectorRun(
            connector=context.connector, stream=context.stream, status=RunStatus.SKIPPED,
            started_at=now, finished_at=now, error=reason,
        )  # fmt: skip
        session.add(run)
        await session.flush()
        run_id = run.id
    return RunSummary(
        context.connector, context.stream, RunStatus.SKIPPED, Counts(), reason, run_id
    )


# --- running streams ------------------------------------------------------------------------


async def run_stream(
    engine: AsyncEngine,
    source: Source,
    stream: Stream[Any],
    *,
    full: bool = False,
    progress: ProgressCallback | None = None,
) -> RunSummary:
    """Run one stream of an opened source to its end (or its first fatal error)."""
    context = StreamContext.of(source, stream)
    async with stream_lock(engine, source.name, stream.name) as acquired:
        if not acquired:
            return await record_skipped(engine, context, "another process is running this stream")
        run = StreamRun(engine, context, full=full)
        cursor = await run.start()
        try:
            async for batch in stream.read(cursor):
                await run.write(batch)
                if progress is not None:
                    progress(source.name, stream.name, run.counts)
        except ConnectorError as error:
            return await run.finish(RunStatus.FAILED, str(error))
        except asyncio.CancelledError:
            await asyncio.shield(run.finish(RunStatus.FAILED, "cancelled"))
            raise
        except (
            Exception
        ) as error:  # a bug or a database failure: record it, keep other streams going
            log.exception("sync %s/%s failed", source.name, stream.name)
            return await run.finish(RunStatus.FAILED, f"{type(error).__name__}: {error}")
        return await run.finish(RunStatus.SUCCEEDED)


async def sync_source(
    engine: AsyncEngine,
    source: Source,
    *,
    streams: Sequence[str] | None = None,
    full: bool = False,
    progress: ProgressCallback | None = None,
) -> list[RunSummary]:
    """Open the source once and run its streams (all, or those named) one after another."""
    chosen = [s for name, s in source.streams.items() if streams is None or name in streams]
    try:
        await source.open()
    except ConnectorError as error:
        await source.close()
        return [await _failed_to_open(engine, source, s, str(error)) for s in chosen]
    try:
        return [await run_stream(engine, source, s, full=full, progress=progress) for s in chosen]
    finally:
        await source.close()


async def _failed_to_open(
    engine: AsyncEngine, source: Source, stream: Stream[Any], error: str
) -> RunSummary:
    run = StreamRun(engine, StreamContext.of(source, stream), full=False)
    await run.start()
    return await run.finish(RunStatus.FAILED, error)


def connectors_config(settings: Settings) -> ConnectorsConfig:
    """The validated connectors file named by HUB_CONNECTORS."""
    if settings.connectors is None:
        raise ConfigError(
            "HUB_CONNECTORS is not set; point it at the connectors TOML (see connectors/README.md)"
        )
    return load_config(settings.connectors)


async def sync(
    settings: Settings,
    engine: AsyncEngine,
    *,
    connectors: Sequence[str] = (),
    full: bool = False,
    progress: ProgressCallback | None = None,
    config: ConnectorsConfig | None = None,
    env: Mapping[str, str] | None = None,
) -> list[RunSummary]:
    """Run every stream of the named connectors (all enabled ones when none are named)."""
    config = config or connectors_config(settings)
    environment = os.environ if env is None else env
    summaries: list[RunSummary] = []
    for name in select_connectors(config, connectors):
        summaries += await _sync_configured(
            engine, config, name, environment, full=full, progress=progress
        )
    return summaries


async def _sync_configured(
    engine: AsyncEngine,
    config: ConnectorsConfig,
    name: str,
    env: Mapping[str, str],
    *,
    streams: Sequence[str] | None = None,
    full: bool = False,
    progress: ProgressCallback | None = None,
) -> list[RunSummary]:
    """Build and run one connector; one that cannot be built (a missing secret) fails alone."""
    try:
        source = build_source(config, name, env=env)
    except FatalError as error:
        chosen = streams if streams is not None else list(config.connectors[name].streams)
        return [
            await _record_failure(engine, config, name, stream, str(error)) for stream in chosen
        ]
    return await sync_source(engine, source, streams=streams, full=full, progress=progress)


async def _record_failure(
    engine: AsyncEngine, config: ConnectorsConfig, name: str, stream: str, error: str
) -> RunSummary:
    context = stream_context(config, name, stream)
    assert context is not None
    run = StreamRun(engine, context, full=False)
    await run.start()
    return await run.finish(RunStatus.FAILED, error)


# --- quarantine retry -----------------------------------------------------------------------


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


def stream_context(config: ConnectorsConfig, connector: str, stream: str) -> StreamContext | None:
    """A stream's pipeline context straight from config: no clients, so no secrets needed."""
    source = config.connectors.get(connector)
    stream_config = source.streams.get(stream) if source else None
    if source is None or stream_config is None:
        return None
    zone = parse_timezone(source.timezone)
    mapping = RecordMapping(stream_config, code_tables=config.code_tables, zone=zone)
    model = TARGET_MODELS[stream_config.target]
    return StreamContext(connector, stream, source.source or connector, model, mapping)


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


# --- scheduling -----------------------------------------------------------------------------


async def last_run_started(engine: AsyncEngine, *, connector: str, stream: str) -> datetime | None:
    """When the stream last ran (SKIPPED runs do not count: another replica may have run it)."""
    query = (
        select(func.max(ConnectorRun.started_at))
        .where(ConnectorRun.connector == connector, ConnectorRun.stream == stream)
        .where(ConnectorRun.status != RunStatus.SKIPPED)
    )
    async with create_sessionmaker(engine)() as session:
        value = (await session.execute(query)).scalar()
    if isinstance(value, str):  # SQLite returns max() of a timestamp column as text
        value = datetime.fromisoformat(value)
    return value if value is None or value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)


async def due_streams(
    engine: AsyncEngine, config: ConnectorsConfig, *, now: datetime
) -> dict[str, list[str]]:
    """Streams of enabled connectors with an `interval` whose last run started that long ago."""
    due: dict[str, list[str]] = {}
    for name, source in config.connectors.items():
        if not source.enabled or source.interval is None:
            continue
        for stream in source.streams:
            last = await last_run_started(engine, connector=name, stream=stream)
            if last is None or last + source.interval <= now:
                due.setdefault(name, []).append(stream)
    return due


async def run_due_syncs(
    settings: Settings,
    engine: AsyncEngine,
    *,
    now: datetime,
    config: ConnectorsConfig | None = None,
    env: Mapping[str, str] | None = None,
) -> list[RunSummary]:
    """Run every stream that is due at `now`; each under its lock, so replicas share the work."""
    config = config or connectors_config(settings)
    environment = os.environ if env is None else env
    summaries: list[RunSummary] = []
    for name, streams in (await due_streams(engine, config, now=now)).items():
        summaries += await _sync_configured(engine, config, name, environment, streams=streams)
    return summaries


class SyncScheduler:
    """Runs due syncs in the background of `hub serve`: `start()` in the lifespan, `await stop()` after."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        *,
        tick_seconds: float = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings, self.engine, self.tick_seconds = settings, engine, tick_seconds
        self.config = connectors_config(settings)  # read once; a bad file fails start-up
        self.env = os.environ if env is None else env
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="gridhub-sync-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await run_due_syncs(
                    self.settings, self.engine, now=utcnow(), config=self.config, env=self.env
                )
            except Exception:  # keep scheduling; each failure is logged and recorded per run
                log.exception("scheduled sync failed")
            await asyncio.sleep(self.tick_seconds)
