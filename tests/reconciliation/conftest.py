"""Fixtures: small department simulators of the test's own, and a hub holding only the grid tree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.config import Settings
from hub.demo.seed import seed_grid_tree
from hub.demo.simulators.run import RunningSimulators, start_simulators
from hub.storage.models import RunStatus
from hub.sync import ProgressCallback, RunSummary, sync
from tests.reconciliation.support import SYNC_ORDER, fast_config

RESIDENTS = 300
SEED = 5


@pytest.fixture
async def sims(tmp_path: Path) -> AsyncIterator[RunningSimulators]:
    """Simulators on loopback ports, free to change; the same world in every test."""
    async with await start_simulators(
        tmp_path / "sources", residents=RESIDENTS, seed=SEED
    ) as running:
        yield running


@pytest.fixture
async def hub(engine: AsyncEngine) -> AsyncEngine:
    """The hub's database with the demo district's grid tree and boards, and nothing else."""
    await seed_grid_tree(engine, scale="small", seed=SEED)
    return engine


class Syncer:
    """Runs the demo connectors (fast variant) against the simulators, as `hub sync` would."""

    def __init__(self, settings: Settings, engine: AsyncEngine, sims: RunningSimulators) -> None:
        self.settings, self.engine, self.sims = settings, engine, sims
        self.config = fast_config()

    async def __call__(
        self, *, progress: ProgressCallback | None = None, succeed: bool = True
    ) -> dict[tuple[str, str], RunSummary]:
        summaries = await sync(
            self.settings,
            self.engine,
            connectors=SYNC_ORDER,
            config=self.config,
            env=self.sims.env(),
            progress=progress,
        )
        if succeed:
            failed = [
                (s.connector, s.stream, s.error)
                for s in summaries
                if s.status is not RunStatus.SUCCEEDED
            ]
            assert not failed
        return {(s.connector, s.stream): s for s in summaries}


@pytest.fixture
def run_sync(settings: Settings, hub: AsyncEngine, sims: RunningSimulators) -> Syncer:
    return Syncer(settings, hub, sims)
