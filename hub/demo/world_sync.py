"""The connector demo: department simulators in a subprocess, pulled into the hub by `hub sync`.

`hub demo` writes only the district's grid tree and boards (`seed_grid_tree`), starts the
simulators (`python -m hub.demo.simulators.run`, see `SimulatorProcess`), points the hub at
`connectors.toml` (next to this module) and the simulators' `GRIDHUB_DEMO_*` variables, and
syncs every connector in `SYNC_ORDER`: the police register first, because it creates the
residents that the other departments' records attach to.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from connectors.config import load_config
from hub.storage.models import Grid, Resident
from hub.sync import ProgressCallback, RunSummary, sync

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.config import Settings

DEMO_CONNECTORS = Path(__file__).with_name("connectors.toml")
SYNC_ORDER = ("police_api", "health_api", "social_db", "education_files", "hotline_12345")
PORT_FILE = "simulators.json"
PR_SET_PDEATHSIG = 1  # prctl(2)
START_TIMEOUT_SECONDS = 120.0


class SimulatorError(RuntimeError):
    """The simulators did not start (the message holds the reason)."""


def _die_with_parent() -> None:
    """Linux: SIGTERM the simulators when `hub demo` dies. uvicorn re-raises the SIGTERM it
    handled once it has shut down, which ends the process before any `finally` runs."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class SimulatorProcess:
    """`python -m hub.demo.simulators.run` in the background, and the variables it announced."""

    process: subprocess.Popen[bytes]
    port_file: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(
        cls, directory: Path, *, residents: int, seed: int = 0, bad_records: int = 0
    ) -> SimulatorProcess:
        """Start the simulators in `directory` and wait until they are ready."""
        directory.mkdir(parents=True, exist_ok=True)
        port_file = directory / PORT_FILE
        port_file.unlink(missing_ok=True)
        command = [
            sys.executable, "-m", "hub.demo.simulators.run", "--dir", str(directory),
            "--residents", str(residents), "--seed", str(seed), "--port-file", str(port_file),
            "--bad-records", str(bad_records),
        ]  # fmt: skip
        # stdout holds the secrets as JSON: the port file (mode 0600) is how we read them.
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        running = cls(process, port_file)
        try:
            running.env = running._wait_ready()
        except BaseException:
            running.stop()
            raise
        return running

    def _wait_ready(self) -> dict[str, str]:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SimulatorError(f"simulators exited with status {self.process.returncode}")
            if self.port_file.exists():
                described = json.loads(self.port_file.read_text(encoding="utf-8"))
                env: dict[str, str] = described["env"]
                return env
            time.sleep(0.1)
        raise SimulatorError(f"simulators not ready after {START_TIMEOUT_SECONDS:.0f} s")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if they are still there after five seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def demo_environment(simulators: Mapping[str, str]) -> dict[str, str]:
    """What `hub serve` and `hub sync` need: HUB_CONNECTORS plus the simulators' variables."""
    return {**simulators, "HUB_CONNECTORS": str(DEMO_CONNECTORS)}


async def sync_demo(
    settings: Settings,
    engine: AsyncEngine,
    *,
    env: Mapping[str, str],
    progress: ProgressCallback | None = None,
) -> list[RunSummary]:
    """Run every demo connector once, police first; `env` holds the GRIDHUB_DEMO_* variables."""
    config = load_config(DEMO_CONNECTORS)
    return await sync(
        settings,
        engine,
        connectors=[name for name in SYNC_ORDER if name in config.connectors],
        progress=progress,
        config=config,
        env={**os.environ, **env},
    )


async def count_rows(engine: AsyncEngine) -> tuple[int, int]:
    """(grids, residents) in the hub."""
    async with engine.connect() as connection:
        grids = await connection.scalar(select(func.count()).select_from(Grid))
        residents = await connection.scalar(select(func.count()).select_from(Resident))
    return int(grids or 0), int(residents or 0)
