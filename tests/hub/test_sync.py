"""The sync pipeline: residents created by the police register, attach-only streams, quarantine, runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.storage.models import (
    ConnectorRun,
    Household,
    HouseholdRegistration,
    QuarantineReason,
    Resident,
    RunStatus,
    Vaccination,
)
from hub.sync import RunSummary, retry_quarantine, run_stream, stream_lock, sync_source
from hub.vocabulary import Gender
from tests.conftest import QuarantineRow, World, stored_residents
from tests.conftest import quarantine_rows as stored_quarantine
from tests.connectors.support import (
    BASE_TIME,
    MemorySource,
    connectors_config,
    health_source,
    id_number,
    police_record,
    police_source,
    vaccination_record,
)

BUILDING = "410105001001001"
OTHER_BUILDING = "410105001001002"


async def run_all(engine: AsyncEngine, source: MemorySource) -> RunSummary:
    (summary,) = await sync_source(engine, source)
    return summary


def counts(summary: RunSummary) -> tuple[int, int, int, int, int]:
    c = summary.counts
    return c.read, c.inserted, c.updated, c.unchanged, c.quarantined


async def quarantine_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> list[QuarantineRow]:
    return await stored_quarantine(sessionmaker.kw["bind"])


async def test_creating_stream_creates_residents_and_households(
    world: World, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await world.tree()
    records = [
        police_record(1, grid=BUILDING, household="H1"),
        police_record(2, grid=BUILDING, household="H1", yhzgx="02"),
        police_record(3, grid=OTHER_BUILDING),
    ]
    summary = await run_all(engine, police_source(records))
    assert summary.status is RunStatus.SUCCEEDED
    assert counts(summary) == (3, 3, 0, 0, 0)
    residents = await stored_residents(engine)
    async with sessionmaker() as session:
        households = {h.number: h for h in await session.scalars(select(Household))}
    first = residents[id_number(1)]
    assert (first.name, first.gender, first.grid_path) == (
        "居民1",
        Gender.MALE,
        f"410105/410105001/410105001001/{BUILDING}/",
    )
    assert first.birth_date == date(1980, 1, 2)  # read from the ID number
    assert residents[id_number(2)].gender is Gender.FEMALE
    assert (
        residents[id_number(1)].household_id
        == residents[id_number(2)].household_id
        == households["H1"].id
    )
    assert set(households) == {"H1", "H00003"}


async def test_attach_only_stream_quarantines_unknown_residents_and_retry_accepts_them_later(
    world: World, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await world.tree()
    await run_all(engine, police_source([police_record(1, grid=BUILDING)]))
    summary = await run_all(
        engine, health_source([vaccination_record(1, person=1), vaccination_record(2, person=2)])
    )
    assert counts(summary) == (2, 1, 0, 0, 1)
    (row,) = await quarantine_rows(sessionmaker)
    assert (row.reason, row.record_key, row.payload["id"]) == (
        QuarantineReason.UNMATCHED_RESIDENT,
        "V-00002",
        "V-00002",
    )

    config = connectors_config(
        {"health": {"kind": "files", "directory": "/nonexistent", "streams": {"vaccinations": {
            "pattern": "*.csv", "target": "vaccination", "fields": health_source([]).streams["vaccinations"].config.fields,
        }}}}
    )  # fmt: skip
    still = await retry_quarantine(engine, config)
    assert (still.retried, still.resolved, still.remaining) == (1, 0, 1)
    await sync_source(engine, police_source([police_record(2, grid=BUILDING)]), full=True)
    retried = await retry_quarantine(engine, config)
    assert (retried.retried, retried.resolved, retried.remaining) == (1, 1, 0)
    assert await quarantine_rows(sessionmaker) == []
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Vaccination)) == 2


BAD_RECORDS: list[Any] = [
    pytest.param(
        {"sfzh": id_number(5)[:17] + ("0" if id_number(5)[17] != "0" else "1")},
        QuarantineReason.INVALID_ID_NUMBER, {"reason": "BAD_CHECK_DIGIT"}, id="bad-check-digit",
    ),
    pytest.param(
        {"sfzh": "4101051980"}, QuarantineReason.INVALID_ID_NUMBER, {"reason": "BAD_LENGTH"}, id="short-number",
    ),
    pytest.param(
        {"djrq": "2010-13-45"}, QuarantineReason.SCHEMA_ERROR, [["registered_on"]], id="impossible-date",
    ),
    pytest.param(
        {"zt": "注销", "xb": "9"}, QuarantineReason.SCHEMA_ERROR, [["status"], ["resident", "gender"]], id="unknown-codes",
    ),
    pytest.param(
        {"wg": "999999999999999"}, QuarantineReason.CONFLICT, {"grid_code": "999999999999999"}, id="unknown-grid",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "reason", "detail"), BAD_RECORDS)
async def test_bad_records_go_to_quarantine_with_reason_and_payload_and_the_run_goes_on(
    world: World,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    overrides: dict[str, Any],
    reason: QuarantineReason,
    detail: Any,
) -> None:
    await world.tree()
    bad = police_record(5, grid=BUILDING, **overrides)
    summary = await run_all(
        engine,
        police_source([police_record(4, grid=BUILDING), bad, police_record(6, grid=BUILDING)]),
    )
    assert summary.status is RunStatus.SUCCEEDED
    assert counts(summary) == (3, 2, 0, 0, 1)
    (row,) = await quarantine_rows(sessionmaker)
    assert (row.reason, row.stream, row.source_record_id, row.payload) == (
        reason,
        "households",
        "HJ-00005",
        bad,
    )
    stored: Any = row.detail
    if isinstance(detail, list):
        assert [e["loc"] for e in stored] == detail
    else:
        assert detail.items() <= stored.items()


async def test_the_same_source_record_naming_a_different_person_is_a_conflict(
    world: World, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await world.tree()
    await run_all(
        engine, police_source([police_record(1, grid=BUILDING), police_record(2, grid=BUILDING)])
    )
    later = (BASE_TIME + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    moved = police_record(1, grid=BUILDING, sfzh=id_number(2), updated=later)
    (summary,) = await sync_source(engine, police_source([moved]), full=True)
    assert counts(summary) == (1, 0, 0, 0, 1)
    (row,) = await quarantine_rows(sessionmaker)
    assert row.reason is QuarantineReason.CONFLICT


async def test_rereading_a_bad_record_updates_its_quarantine_row(
    world: World, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await world.tree()
    bad = police_record(1, grid=BUILDING, djrq="never")
    await run_all(engine, police_source([bad]))
    await run_all(
        engine, police_source([bad], name="police")
    )  # a fresh source: cursor at 0 again? no —
    rows = await quarantine_rows(sessionmaker)
    assert len(rows) == 1


async def test_stale_records_never_overwrite_newer_data_and_newer_ones_update(
    world: World, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await world.tree()
    current = police_record(1, grid=BUILDING, pcs="新派出所", updated="2024-06-01 00:00:00")
    stale = police_record(
        1, grid=BUILDING, pcs="旧派出所", updated="2024-01-01 00:00:00", xm="旧名字"
    )
    newer = police_record(
        1, grid=BUILDING, pcs="更新派出所", updated="2024-07-01 00:00:00", xm="新名字"
    )
    source = police_source([current, stale, current, newer], batch_size=2)
    summary = await run_all(engine, source)
    assert counts(summary) == (4, 1, 1, 2, 0)
    async with sessionmaker() as session:
        (record,) = await session.scalars(select(HouseholdRegistration))
        (resident,) = await session.scalars(select(Resident))
    assert (record.police_station, resident.name) == ("更新派出所", "新名字")
    assert record.source_updated_at == datetime(2024, 6, 30, 16, 0, tzinfo=UTC)  # +08:00 local time


async def test_second_sync_reads_only_what_changed_and_run_counts_are_recorded(
    world: World, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await world.tree()
    records = [police_record(n, grid=BUILDING) for n in range(1, 121)]
    source = police_source(records, batch_size=50)
    first = await run_all(engine, source)
    records.append(police_record(121, grid=BUILDING))
    second = await run_all(engine, source)
    assert counts(first) == (120, 120, 0, 0, 0)
    assert counts(second) == (1, 1, 0, 0, 0)
    async with sessionmaker() as session:
        runs = list(await session.scalars(select(ConnectorRun).order_by(ConnectorRun.id)))
    assert [(r.status, r.read, r.inserted, r.cursor_before, r.cursor_after) for r in runs] == [
        (RunStatus.SUCCEEDED, 120, 120, None, {"offset": 120}),
        (RunStatus.SUCCEEDED, 1, 1, {"offset": 120}, {"offset": 121}),
    ]
    assert all(r.finished_at is not None and r.finished_at >= r.started_at for r in runs)


async def test_full_sync_rereads_everything_and_changes_nothing(
    world: World, engine: AsyncEngine
) -> None:
    await world.tree()
    source = police_source([police_record(n, grid=BUILDING) for n in range(1, 11)])
    await run_all(engine, source)
    (again,) = await sync_source(engine, source, full=True)
    assert counts(again) == (10, 0, 0, 10, 0)


async def test_a_stream_already_running_is_skipped(world: World, engine: AsyncEngine) -> None:
    source = police_source([])
    async with stream_lock(engine, "police", "households") as acquired:
        assert acquired
        summary = await run_stream(engine, source, source.streams["households"])
    assert summary.status is RunStatus.SKIPPED


async def test_a_run_left_running_by_a_killed_process_is_closed_as_failed(
    world: World, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await world.add(
        ConnectorRun(
            connector="police",
            stream="households",
            status=RunStatus.RUNNING,
            started_at=datetime(2024, 1, 1, tzinfo=UTC),
        )
    )
    await run_all(engine, police_source([]))
    async with sessionmaker() as session:
        statuses = [
            r.status for r in await session.scalars(select(ConnectorRun).order_by(ConnectorRun.id))
        ]
        (first,) = await session.scalars(select(ConnectorRun).where(ConnectorRun.id == 1))
    assert statuses == [RunStatus.FAILED, RunStatus.SUCCEEDED]
    assert first.error is not None
    assert "interrupted" in first.error
