"""`hub sync` SIGKILLed at random points against the real simulators, then resumed: as a clean run.

The simulators run in this process, on this event loop, so the test only ever waits with
`await` while the sync subprocess talks to them. After three kills and one run to the end,
the hub must hold what a clean in-process sync into a second database holds — the same
records, quarantine, residents and final cursors — and the runs, added up, must have read
every source record exactly once: nothing lost, nothing duplicated.
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
from hub.storage.models import Case, ConnectorRun, ConnectorState, RunStatus
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


async def reads(engine: AsyncEngine) -> Counter[tuple[str, str]]:
    async with create_sessionmaker(engine)() as session:
        runs = list(await session.scalars(select(ConnectorRun)))
    assert {r.status for r in runs} <= {RunStatus.SUCCEEDED, RunStatus.FAILED}
    total: Counter[tuple[str, str]] = Counter()
    for run in runs:
        total[run.connector, run.stream] += run.read
    return total


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
    # each record read once
    assert await reads(hub) == expected_counts(big_sims.world, big_sims.hotline)
    assert crashed_state == expected_state(big_sims.world)
    assert await hotline_cases(hub) == sorted(big_sims.hotline.orders)  # one case per order
    clean_state, clean_cursors = await clean_run(scratch_database_url, big_sims)
    assert crashed_state == clean_state
    assert crashed_cursors == clean_cursors
