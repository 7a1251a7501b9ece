"""Runs that reject too much fail, commit nothing of the batch, and recover with a plain run."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.models import ConnectorRun, RunStatus
from hub.storage.session import create_sessionmaker
from tests.conftest import World
from tests.connectors.hostile.server import HostileApi, paged, trickle
from tests.connectors.hostile.support import bounded, http_source, residents, run, vaccinations
from tests.connectors.support import VACCINATION_FIELDS

SUCCEEDED, FAILED = RunStatus.SUCCEEDED, RunStatus.FAILED
BROKEN = VACCINATION_FIELDS | {"administered_on": {"path": "dat", "formats": ["%Y%m%d"]}}


def ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(r["id"] for r in records)


async def test_a_broken_mapping_fails_the_run_commits_nothing_and_once_fixed_a_plain_run_ingests_all(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    records = vaccinations(30)
    hostile.answer = paged(records)
    with bounded(seconds=10, megabytes=20):
        broken = await run(engine, http_source(hostile.base_url, stream={"fields": BROKEN}))
    assert broken.summary.status is FAILED
    error = str(broken.summary.error)
    assert "10 of the 10 records of one batch did not fit the mapping (limit 50%" in error
    assert "SCHEMA_ERROR at administered_on ×10 (Field required)" in error
    assert "Nothing of this batch was written or quarantined and the cursor did not move" in error
    assert "`hub connectors check health --sample 20`" in error
    assert "`hub sync health --accept-rejections`" in error
    assert (broken.written, broken.quarantined, broken.cursor) == ([], {}, None)
    assert broken.summary.counts.read == 0  # nothing committed, so nothing counted

    fixed = await run(engine, http_source(hostile.base_url))
    assert fixed.summary.status is SUCCEEDED
    assert fixed.written == ids(records)
    assert fixed.quarantined == {}
    assert fixed.cursor["watermark"] == records[-1]["updated_at"]


async def test_a_run_rejecting_more_than_a_fifth_fails_though_no_batch_passes_half(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    records = [r | ({"date": "昨天"} if n % 10 < 4 else {}) for n, r in enumerate(vaccinations(30))]
    hostile.answer = paged(records)
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, http_source(hostile.base_url))
    assert done.summary.status is FAILED
    assert "8 of the 20 records read in this run did not fit the mapping (limit 20%" in str(
        done.summary.error
    )
    assert done.written == ids(records[4:10])  # the first batch: under both limits
    assert done.quarantined == {r["id"]: "SCHEMA_ERROR" for r in records[:4]}
    assert done.cursor["pending"]["token"] == "10"  # after the first batch, not the second


async def test_accept_rejections_quarantines_them_for_one_run_and_the_cursor_stays_behind_them(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    records = vaccinations(30)
    hostile.answer = paged(records)
    with bounded(seconds=10, megabytes=20):
        accepted = await run(
            engine, http_source(hostile.base_url, stream={"fields": BROKEN}), accept_rejections=True
        )
    assert accepted.summary.status is SUCCEEDED
    assert accepted.written == []
    assert accepted.quarantined == dict.fromkeys(ids(records), "SCHEMA_ERROR")
    assert accepted.cursor == {"watermark": None, "seen": [], "pending": None}

    again = await run(engine, http_source(hostile.base_url, stream={"fields": BROKEN}))
    assert again.summary.status is FAILED  # the override was for one run
    fixed = await run(engine, http_source(hostile.base_url))
    assert fixed.summary.status is SUCCEEDED
    assert fixed.written == ids(records)  # quarantined records never moved the cursor
    assert fixed.quarantined == {}


async def test_unknown_residents_are_counted_apart_and_never_fail_a_run(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine, count=5)
    records = vaccinations(30)  # people 5 … 29 are not residents (yet)
    hostile.answer = paged(records)
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, http_source(hostile.base_url))
    assert done.summary.status is SUCCEEDED
    assert done.written == ids(records[:5])
    assert done.quarantined == dict.fromkeys(ids(records[5:]), "UNMATCHED_RESIDENT")
    counts = done.summary.counts
    assert (counts.quarantined, counts.unmatched) == (25, 25)
    assert counts.reasons == {"UNMATCHED_RESIDENT": 25}
    assert done.summary.as_dict()["unmatched"] == 25


HUB_SYNC = [sys.executable, "-c", "from hub.cli import app; app(prog_name='hub')", "sync"]
CONFIG = """
[connectors.health]
kind = "http"
base_url = "{base_url}"
timeout_seconds = 600

[connectors.health.streams.vaccinations]
path = "/records"
pagination = {{ style = "cursor", size_param = "limit", page_size = 10 }}
target = "vaccination"

[connectors.health.streams.vaccinations.fields]
source_record_id = "id"
source_updated_at = "updated_at"
id_number = "person.id_no"
vaccine = "vaccine"
dose_number = "dose"
administered_on = {{ path = "date", formats = ["%Y%m%d"] }}
"""


async def test_a_run_whose_process_was_killed_is_marked_failed_at_the_next_start(
    hostile: HostileApi, world: World, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await residents(world, engine)
    hostile.answer = trickle(b'{"data": []}', every=60)  # holds the run open
    toml = tmp_path / "connectors.toml"
    toml.write_text(CONFIG.format(base_url=hostile.base_url), encoding="utf-8")
    env = os.environ | {"HUB_DATABASE_URL": database_url, "HUB_CONNECTORS": str(toml)}
    process = await asyncio.create_subprocess_exec(
        *HUB_SYNC, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await _until_running(engine)
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert await _statuses(engine) == [RunStatus.RUNNING]

    hostile.answer = paged(vaccinations(3))
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, http_source(hostile.base_url))
    assert done.summary.status is SUCCEEDED
    assert done.statuses == ["FAILED", "SUCCEEDED"]
    async with create_sessionmaker(engine)() as session:
        query = select(ConnectorRun).where(ConnectorRun.connector == "health")
        killed = await session.scalar(query.order_by(ConnectorRun.id).limit(1))
    assert killed is not None
    assert killed.finished_at is not None
    assert "interrupted: the process ended mid-run" in str(killed.error)
    assert done.written == ids(vaccinations(3))
    assert (done.quarantined, done.cursor["pending"]) == ({}, None)


async def _until_running(engine: AsyncEngine) -> None:
    for _ in range(300):
        if await _statuses(engine) == [RunStatus.RUNNING]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("`hub sync` never started its run")


async def _statuses(engine: AsyncEngine) -> list[RunStatus]:
    async with create_sessionmaker(engine)() as session:
        query = select(ConnectorRun.status).where(ConnectorRun.connector == "health")
        return list(await session.scalars(query.order_by(ConnectorRun.id)))
