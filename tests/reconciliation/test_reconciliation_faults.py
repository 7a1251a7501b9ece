"""Faults of the department systems change nothing in the end: the hub equals a clean run's.

Each test switches one fault on in both HTTP simulators (or changes the data under a running
sync, or injects bad records), syncs everything once, and compares the hub with the state a
clean sync of the same (possibly changed) departments leaves — see `expected_state`, which
the clean-run test in test_reconciliation.py checks against a real clean sync.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.demo.simulators.run import RunningSimulators
from hub.demo.simulators.world import BadRecord
from hub.storage.models import QuarantineReason
from hub.sync import Counts
from tests.reconciliation.conftest import Syncer
from tests.reconciliation.support import (
    REASONS,
    expected_state,
    hub_state,
    inject_everywhere,
    write_social_rows_now,
)

# One per fault; the demo TOML made fast times out after 1 s and tries 6 times.
HTTP_FAULTS: dict[str, dict[str, Any]] = {
    "5xx burst": {"unavailable": 3},
    "429 with Retry-After": {"rate_limited": 2, "retry_after": 1},
    "slow response": {"slow": 2, "delay": 0.3},
    "timeout": {"slow": 2, "delay": 1.3},
    "malformed JSON page": {"malformed": 2},
    "records repeated across pages": {"overlap": 7},
    "records updated while a sync runs": {"update_after": 2, "update_count": 5},
}


async def assert_equals_a_clean_run(hub: AsyncEngine, sims: RunningSimulators) -> None:
    expected, actual = expected_state(sims.world), await hub_state(hub, sims.world)
    for table, rows in expected.records.items():
        assert actual.records[table] == rows, table
    assert actual.quarantine == expected.quarantine
    assert actual.residents == expected.residents


@pytest.mark.parametrize("fault", list(HTTP_FAULTS))
async def test_an_http_fault_leaves_the_hub_as_a_clean_run_does(
    sims: RunningSimulators, hub: AsyncEngine, run_sync: Syncer, fault: str
) -> None:
    for faults in (sims.health_faults, sims.police_faults):
        faults.set(HTTP_FAULTS[fault])

    await run_sync()

    health, police = sims.health_faults, sims.police_faults
    assert (health.unavailable, health.rate_limited, health.slow, health.malformed) == (0, 0, 0, 0)
    assert (police.unavailable, police.rate_limited, police.slow, police.malformed) == (0, 0, 0, 0)
    if fault == "records updated while a sync runs":
        assert len(health.updated) == len(police.updated) == 5  # edited mid-run, both APIs
    await assert_equals_a_clean_run(hub, sims)


async def test_rows_updated_in_the_database_while_a_sync_reads_it_land(
    sims: RunningSimulators, hub: AsyncEngine, run_sync: Syncer
) -> None:
    table = sims.world.streams["si_enrollment"]
    order = [key for _, key in table.ordered()]
    behind, ahead = order[10:100:9], order[500::50]  # first batch: 100 rows
    edited: list[str] = []

    def edit_after_first_batch(connector: str, stream: str, counts: Counts) -> None:
        if stream == "si_enrollment" and not edited:
            edited.extend(sims.world.touch("si_enrollment", ids=behind + ahead))
            write_social_rows_now(sims, "si_enrollment", edited)

    runs = await run_sync(progress=edit_after_first_batch)

    assert len(edited) == len(behind) + len(ahead) > 15
    counts = runs["social_db", "si_enrollment"].counts
    assert counts.read == len(order) + len(behind)  # rows behind the cursor are read again
    assert counts.updated == len(behind)
    await assert_equals_a_clean_run(hub, sims)


@pytest.mark.parametrize("kind", [BadRecord.INVALID_ID_NUMBER, BadRecord.UNKNOWN_RESIDENT], ids=str)
async def test_bad_records_go_to_quarantine_with_their_reason_and_nothing_else_changes(
    sims: RunningSimulators, hub: AsyncEngine, run_sync: Syncer, kind: BadRecord
) -> None:
    injected = inject_everywhere(sims, kind, 3)

    await run_sync()

    await assert_equals_a_clean_run(hub, sims)
    state = await hub_state(hub, sims.world)
    reasons = {key: reason for _, _, key, reason in state.quarantine}
    wanted: QuarantineReason = REASONS[kind]
    assert {reasons[key] for ids in injected.values() for key in ids} == {wanted}
    assert len(state.quarantine) == sum(map(len, injected.values())) > 0
