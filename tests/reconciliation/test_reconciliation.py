"""Reconciliation against the real simulators: a clean sync brings in everything, a second only changes.

The hub starts with the grid tree alone; the demo connectors (hub/demo/connectors.toml, with
small pages) pull the four departments in, police first. Every source record must end in its
department table or in quarantine with its reason, per stream to the record.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.demo.simulators.run import RunningSimulators
from hub.demo.simulators.world import EDUCATION_STREAM, BadRecord
from hub.storage.models import QuarantinedRecord, Resident
from tests.conftest import stored_residents
from tests.reconciliation.conftest import Syncer
from tests.reconciliation.support import (
    HUB_STREAMS,
    expected_counts,
    expected_state,
    hub_state,
    inject_everywhere,
    persist,
    police_people,
)


async def test_a_clean_sync_brings_every_source_record_into_the_hub_or_quarantine(
    sims: RunningSimulators, hub: AsyncEngine, run_sync: Syncer
) -> None:
    async with hub.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Resident)) == 0
    invalid = inject_everywhere(sims, BadRecord.INVALID_ID_NUMBER, 2)
    unknown = inject_everywhere(sims, BadRecord.UNKNOWN_RESIDENT, 2)
    assert sum(map(len, invalid.values())) == 2 * 9
    assert sum(map(len, unknown.values())) == 2 * 7  # not in the register's creating streams

    runs = await run_sync()

    expected, actual = expected_state(sims.world), await hub_state(hub, sims.world)
    for table, rows in expected.records.items():
        assert actual.records[table] == rows, table
    assert actual.quarantine == expected.quarantine
    assert actual.residents == expected.residents
    assert len(actual.residents) == len(police_people(sims.world))
    read = {key: summary.counts.read for key, summary in runs.items()}
    assert read == expected_counts(sims.world, sims.hotline)
    quarantined = Counter((connector, stream) for connector, stream, _, _ in expected.quarantine)
    for key, summary in runs.items():
        counts = summary.counts
        assert counts.quarantined == quarantined[key], key
        assert (counts.inserted, counts.updated, counts.unchanged) == (
            counts.read - counts.quarantined,
            0,
            0,
        ), key


async def test_a_second_sync_reads_only_the_records_that_changed(
    sims: RunningSimulators, hub: AsyncEngine, run_sync: Syncer
) -> None:
    await run_sync()
    touched = {name: sims.world.touch(name, count=3) for name in sims.world.streams}
    persist(sims, touched)

    runs = await run_sync()

    for name, ids in touched.items():
        if name == EDUCATION_STREAM:
            continue
        counts = runs[HUB_STREAMS[name]].counts
        assert (counts.read, counts.updated) == (len(ids), len(ids)), name
    education = [s.counts for (connector, _), s in runs.items() if connector == "education_files"]
    assert sum(c.updated for c in education) == len(touched[EDUCATION_STREAM])
    assert sum(c.inserted + c.quarantined for c in education) == 0  # a changed export is re-read
    expected, actual = expected_state(sims.world), await hub_state(hub, sims.world)
    assert actual == expected  # the versions of the touched records landed
    await _phones_follow_the_register(hub, sims, touched["households"])


async def _phones_follow_the_register(
    hub: AsyncEngine, sims: RunningSimulators, household_ids: list[str]
) -> None:
    """A touched household record carries a new phone number: the resident has it now."""
    records = sims.world.streams["households"].records
    residents = await stored_residents(hub)
    for key in household_ids:
        record = records[key]
        assert residents[record["sfzh"]].phone == record["lxdh"]


async def test_a_second_sync_reads_again_only_the_quarantined_records_newer_than_the_cursor(
    sims: RunningSimulators, hub: AsyncEngine, run_sync: Syncer
) -> None:
    """Injected records are stamped newest: quarantined, they never move the cursor, so the
    next run reads them again (and quarantines them again, one more attempt each) and
    nothing else. A changed-nothing export is not read again."""
    invalid = inject_everywhere(sims, BadRecord.INVALID_ID_NUMBER, 2)
    await run_sync()

    runs = await run_sync()

    bad: Counter[tuple[str, str]] = Counter()
    for name, ids in invalid.items():
        if name != EDUCATION_STREAM:
            bad.update(HUB_STREAMS[name] for _ in ids)
    for key, summary in runs.items():
        counts = summary.counts
        assert (counts.read, counts.quarantined) == (bad[key], bad[key]), key
    async with hub.connect() as connection:
        query = select(QuarantinedRecord.attempts).where(
            QuarantinedRecord.connector != "education_files"
        )
        attempts = list(await connection.scalars(query))
    assert len(attempts) == bad.total()
    assert set(attempts) == {2}
    assert await hub_state(hub, sims.world) == expected_state(sims.world)
