"""Scheduled syncs: which streams are due, and `SyncScheduler` running them in `hub serve`."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.config import ConnectorsConfig
from hub.config import Settings
from hub.storage.base import utcnow
from hub.storage.models import ConnectorRun, RunStatus
from hub.storage.session import create_sessionmaker
from hub.sync.results import RunSummary
from hub.sync.runner import _sync_configured, connectors_config

log = logging.getLogger("hub.sync")


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
