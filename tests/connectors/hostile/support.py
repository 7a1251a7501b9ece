"""What every hostile-source test needs: residents to attach to, sources, and what a run left.

`outcome()` reads back what a run wrote, what it quarantined and why, and the stream's
cursor; `bounded()` asserts a run's time and its peak of traced memory (tracemalloc:
every Python allocation of the process, the local server threads' included).
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.base import Source
from connectors.registry import build_source
from hub.storage.models import ConnectorRun, ConnectorState, QuarantinedRecord, Vaccination
from hub.storage.session import create_sessionmaker
from hub.sync import RunSummary, sync_source
from tests.conftest import World
from tests.connectors.support import (
    VACCINATION_FIELDS,
    connectors_config,
    police_record,
    police_source,
    vaccination_record,
)

BUILDING = "410105001001001"
FAST = {"backoff_seconds": 0.01, "backoff_max_seconds": 0.02, "max_attempts": 3}
MiB = 1 << 20


async def residents(world: World, engine: AsyncEngine, count: int = 40) -> None:
    """The grid tree and `count` residents (people 0 … count-1 of tests.connectors.support)."""
    await world.tree()
    people = [police_record(n, grid=BUILDING) for n in range(count)]
    (summary,) = await sync_source(engine, police_source(people))
    assert summary.counts.inserted == count


def vaccinations(count: int, start: int = 0, **overrides: Any) -> list[dict[str, Any]]:
    return [vaccination_record(n, person=n, **overrides) for n in range(start, start + count)]


def http_source(
    base_url: str, *, env: dict[str, str] | None = None, stream: dict[str, Any] | None = None,
    **source: Any,
) -> Source:  # fmt: skip
    """A vaccinations stream over cursor pages at `base_url`, fast retries."""
    settings = {
        "path": "/records", "records_path": "data", "target": "vaccination",
        "fields": VACCINATION_FIELDS, "updated_since_param": "updated_since",
        "pagination": {"style": "cursor", "size_param": "limit", "page_size": 10},
    } | (stream or {})  # fmt: skip
    connector = {"kind": "http", "base_url": base_url, "source": "health_api", **FAST}
    connector |= source | {"streams": {"vaccinations": settings}}
    return build_source(connectors_config({"health": connector}), "health", env=env or {})


@dataclass(frozen=True)
class Outcome:
    """What one stream holds after a run: rows written, quarantine by key, cursor, runs."""

    summary: RunSummary
    written: list[str]
    quarantined: dict[str, str]  # record key → reason
    cursor: Any
    statuses: list[str]


async def run(engine: AsyncEngine, source: Source, **options: Any) -> Outcome:
    (summary,) = await sync_source(engine, source, **options)
    return await outcome(engine, summary)


async def outcome(engine: AsyncEngine, summary: RunSummary) -> Outcome:
    names = (summary.connector, summary.stream)
    async with create_sessionmaker(engine)() as session:
        written = await session.scalars(
            select(Vaccination.source_record_id).order_by(Vaccination.source_record_id)
        )
        quarantine = await session.execute(
            select(QuarantinedRecord.record_key, QuarantinedRecord.reason).where(
                QuarantinedRecord.connector == names[0], QuarantinedRecord.stream == names[1]
            )
        )
        state = await session.get(ConnectorState, names)
        runs = await session.scalars(
            select(ConnectorRun.status)
            .where(ConnectorRun.connector == names[0], ConnectorRun.stream == names[1])
            .order_by(ConnectorRun.id)
        )
        return Outcome(
            summary,
            list(written),
            {key: reason.value for key, reason in quarantine},
            None if state is None else state.cursor,
            [status.value for status in runs],
        )


@contextmanager
def bounded(*, seconds: float, megabytes: float) -> Iterator[None]:
    """Assert that the block took at most `seconds` and its traced memory peaked under `megabytes`."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if log := os.environ.get("HUB_BOUNDS_LOG"):  # measured values, for reports
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
        with open(log, "a", encoding="utf-8") as out:
            out.write(
                f"{test}\t{elapsed:.2f} s\t{peak / MiB:.1f} MiB\t(bounds {seconds} s, {megabytes} MiB)\n"
            )
    assert elapsed < seconds, f"took {elapsed:.1f} s (bound {seconds} s)"
    assert peak < megabytes * MiB, f"peaked at {peak / MiB:.1f} MiB (bound {megabytes} MiB)"
