"""`hub sync` SIGKILLed at random points against the real simulators, then resumed: as a clean run.

The simulators run in this process, on this event loop, so the test only ever waits with
`await` while the sync subprocess talks to them. After three kills and one run to the end,
the hub must hold what a clean in-process sync into a second database holds — the same
records, quarantine, residents and final cursors — and the runs, added up, must have read
every source record exactly once: nothing lost, nothing duplicated. The one read beyond that
is by design: a record that ends in quarantine and is newer than everything accepted does
not move the cursor, so every later run of its stream reads it again (connectors/README.md).
The injected bad records are the newest of their streams, so when a killed process had
finished a stream, the next process reads that stream's bad records once more; each such
read is one more `attempts` of the record's quarantine row, and nothing else is read twice.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.config import Settings
from hub.demo.seed import seed_grid_tree
from hub.demo.simulators.run import RunningSimulators, start_simulators
from hub.governance.enums import CaseSource
from hub.storage import migrations
from hub.storage.models import Case, ConnectorRun, ConnectorState, QuarantinedRecord, RunStatus
from hub.storage.session import create_sessionmaker
from hub.sync import sync
from tests.conftest import open_engine
from tests.reconciliation.conftest import SEED
from tests.reconciliation.support import (
    SYNC_ORDER,
    expected_counts,
    expected_state,
    fast_config,
    hub_state,
    write_fast_toml,
)

HUB_SYNC = [sys.executable, "-c", "from hub.cli import app; app(prog_name='hub')", "sync"]
KILLS = 3
STARTUP_SECONDS = 1.2  # imports before the first request


@pytest.fixture
async def big_sims(tmp_path: Path) -> AsyncIterator[RunningSimulators]:
    """A larger world, so that a sync takes a few seconds to kill into."""
    async with await start_simulators(
        tmp_path / "sources", residents=1000, seed=SEED, bad_records=2
    ) as running:
        yield running


def sync_environment(database_url: str, toml: Path, sims: RunningSimulators) -> dict[str, str]:
    return {
        **os.environ,
        **sims.env(),
        "HUB_DATABASE_URL": database_url,
        "HUB_CONNECTORS": str(toml),
        "HUB_VAR_DIR": str(toml.parent / "var"),
    }


async def run_hub_sync(env: dict[str, str], *, kill_after: float | None) -> int | None:
    """`hub sync` in a subprocess; SIGKILLed after `kill_after` seconds if still running."""
    process = await asyncio.create_subprocess_exec(
        *HUB_SYNC, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        return await asyncio.wait_for(process.wait(), timeout=kill_after or 120)
    except TimeoutError:
        if kill_after is None:
            raise
        process.send_signal(signal.SIGKILL)
        await process.wait()
        return None


async def cursors(engine: AsyncEngine) -> dict[tuple[str, str], Any]:
    async with create_sessionmaker(engine)() as session:
        states = await session.scalars(select(ConnectorState))
        return {(s.connector, s.stream): s.cursor for s in states}


Tally = Counter[tuple[str, str]]


async def run_totals(engine: AsyncEngine) -> dict[str, Tally]:
    """Each count of connector_runs (read, inserted, …) summed over all runs, per stream."""
    async with create_sessionmaker(engine)() as session:
        runs = list(await session.scalars(select(ConnectorRun)))
    assert {r.status for r in runs} <= {RunStatus.SUCCEEDED, RunStatus.FAILED}
    totals: dict[str, Tally] = {}
    for run in runs:
        for name in ("read", "inserted", "updated", "unchanged", "quarantined"):
            totals.setdefault(name, Counter())[run.connector, run.stream] += getattr(run, name)
    return totals


async def rereads_of_quarantined(engine: AsyncEngine) -> Tally:
    """Per stream, how many times records were read again after their first quarantine."""
    async with create_sessionmaker(engine)() as session:
        rows = await session.execute(
            select(
                QuarantinedRecord.connector, QuarantinedRecord.stream, QuarantinedRecord.attempts
            )
        )
        again: Tally = Counter()
        for connector, stream, attempts in rows:
            again[connector, stream] += attempts - 1
    return again


def plus(counts: dict[tuple[str, str], int], more: Tally) -> dict[tuple[str, str], int]:
    return {key: count + more[key] for key, count in counts.items()}


async def hotline_cases(engine: AsyncEngine) -> list[str]:
    """The work order behind each hotline case, sorted (a repeat would show twice)."""
    async with engine.connect() as connection:
        query = select(Case.source_record_id).where(Case.source == CaseSource.HOTLINE)
        return sorted(str(number) for number in (await connection.scalars(query)).all())


async def clean_run(url: str, sims: RunningSimulators) -> tuple[Any, Any]:
    """A clean in-process sync into a database of its own: its state and cursors."""
    await asyncio.to_thread(migrations.upgrade, url)
    engine = open_engine(url)
    try:
        await seed_grid_tree(engine, scale="small", seed=SEED)
        summaries = await sync(
            Settings(database_url=url),
            engine,
            connectors=SYNC_ORDER,
            config=fast_config(quick_retries=False),
            env=sims.env(),
        )
        assert {s.status for s in summaries} == {RunStatus.SUCCEEDED}
        return await hub_state(engine, sims.world), await cursors(engine)
    finally:
        await engine.dispose()


async def test_a_sync_killed_three_times_then_resumed_equals_a_clean_run(
    big_sims: RunningSimulators,
    hub: AsyncEngine,
    database_url: str,
    scratch_database_url: str,
    tmp_path: Path,
) -> None:
    toml = write_fast_toml(tmp_path, quick_retries=False)  # no faults here: default timeouts
    env = sync_environment(database_url, toml, big_sims)
    rng = random.Random(20250305)
    killed = 0
    for _ in range(KILLS):
        outcome = await run_hub_sync(env, kill_after=STARTUP_SECONDS + rng.uniform(0.1, 0.9))
        killed += outcome is None
    assert await run_hub_sync(env, kill_after=None) == 0
    # A resumed run has less left to do and may finish before its kill: at least one kill
    # must land mid-run; the state checks below hold however many did.
    assert killed >= 1

    crashed_state, crashed_cursors = await hub_state(hub, big_sims.world), await cursors(hub)
    totals, again = await run_totals(hub), await rereads_of_quarantined(hub)
    expected = expected_state(big_sims.world)
    first_reads = expected_counts(big_sims.world, big_sims.hotline)
    bad = Counter((connector, stream) for connector, stream, _, _ in expected.quarantine)
    good = {key: count - bad[key] for key, count in first_reads.items()}
    # each genuine record read and written once: no page read twice, no batch committed twice
    assert {key: totals["read"][key] - totals["quarantined"][key] for key in good} == good
    assert {key: totals["inserted"][key] for key in good} == good
    assert totals["updated"].total() == totals["unchanged"].total() == 0
    # each record read once, and a bad one once more per later run of a finished stream
    assert dict(totals["read"]) == plus(first_reads, again)
    assert dict(totals["quarantined"]) == plus({k: bad[k] for k in first_reads}, again)
    assert crashed_state == expected
    assert await hotline_cases(hub) == sorted(big_sims.hotline.orders)  # one case per order
    clean_state, clean_cursors = await clean_run(scratch_database_url, big_sims)
    assert crashed_state == clean_state
    assert crashed_cursors == clean_cursors
