"""The connector commands and the scheduler: `hub sync`, `connectors list|status`, `quarantine list|retry`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from hub.cli import app as hub_app
from hub.config import Settings
from hub.storage.base import utcnow
from hub.storage.models import RunStatus
from hub.storage.session import create_sessionmaker
from hub.sync import SyncScheduler, run_due_syncs
from tests.conftest import World, open_engine
from tests.connectors.support import id_number

CONFIG = """
[connectors.police]
kind = "files"
directory = "{directory}"
interval = "10m"

[connectors.police.streams.households]
pattern = "*.csv"
target = "household_registration"
creates_residents = true

[connectors.police.streams.households.fields]
source_record_id = "记录号"
source_updated_at = "_file_mtime"
id_number = "身份证号"
registration_type = {{ value = "FAMILY" }}
household_number = "户号"
relation_to_head = {{ value = "HEAD" }}
registered_address = "住址"
registered_on = "登记日期"
police_station = {{ value = "花园路派出所" }}
status = {{ value = "ACTIVE" }}

[connectors.police.streams.households.resident]
name = "姓名"
grid_code = "网格"
household_number = "户号"
"""


def write_register(directory: Path, numbers: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["记录号", "身份证号", "姓名", "户号", "住址", "登记日期", "网格"])
    for n, number in enumerate(numbers):
        writer.writerow(
            [f"HJ{n}", number, f"居民{n}", f"H{n}", "花园路1号", "2010年3月5日", "410105001001001"]
        )
    (directory / "户籍.csv").write_bytes(buffer.getvalue().encode("gbk"))


@pytest.fixture
def hub_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    exports = tmp_path / "exports"
    exports.mkdir()
    toml = tmp_path / "connectors.toml"
    toml.write_text(CONFIG.format(directory=exports), encoding="utf-8")
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_CONNECTORS", str(toml))
    return exports


def cli(*args: str) -> Any:
    return CliRunner().invoke(hub_app, list(args))


def seed_grids(database_url: str) -> None:
    """The commands run their own event loop, so these tests are synchronous and seed in one too."""

    async def seed() -> None:
        engine = open_engine(database_url)
        await World(create_sessionmaker(engine)).tree()
        await engine.dispose()

    asyncio.run(seed())


def test_sync_status_and_quarantine_commands_report_what_happened(
    hub_env: Path, database_url: str
) -> None:
    seed_grids(database_url)
    write_register(hub_env, [id_number(1), id_number(2), "410105198001011234"])
    result = cli("sync", "--json")
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.stdout)
    assert (run["status"], run["read"], run["inserted"], run["quarantined"]) == (
        "SUCCEEDED",
        3,
        2,
        1,
    )

    (status,) = json.loads(cli("connectors", "status", "--json").stdout)
    assert status["last_run"]["status"] == "SUCCEEDED"
    assert status["cursor"]["current"] is None
    assert status["lag_seconds"] >= 0

    listed = json.loads(cli("quarantine", "list", "--reason", "INVALID_ID_NUMBER", "--json").stdout)
    assert [(q["record_key"], q["detail"]["reason"]) for q in listed] == [
        ("HJ2", "BAD_CHECK_DIGIT")
    ]
    retried = json.loads(cli("quarantine", "retry", "--json").stdout)
    assert (retried["retried"], retried["remaining"]) == (1, 1)

    (connector,) = json.loads(cli("connectors", "list", "--json").stdout)
    assert (connector["connector"], connector["interval_seconds"], connector["streams"]) == (
        "police", 600.0, {"households": "household_registration"},
    )  # fmt: skip


def test_sync_fails_with_a_one_line_reason(hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli("sync", "nosuch")
    assert result.exit_code == 1
    assert "unknown connector(s) nosuch (known: police)" in result.output
    monkeypatch.delenv("HUB_CONNECTORS")
    assert "HUB_CONNECTORS is not set" in cli("connectors", "list").output


async def test_due_syncs_run_each_stream_once_per_interval(
    hub_env: Path, world: World, engine: AsyncEngine
) -> None:
    await world.tree()
    write_register(hub_env, [id_number(1)])
    settings = Settings()
    now = utcnow()
    first = await run_due_syncs(settings, engine, now=now)
    assert [(s.stream, s.status) for s in first] == [("households", RunStatus.SUCCEEDED)]
    assert await run_due_syncs(settings, engine, now=now + timedelta(minutes=5)) == []
    later = await run_due_syncs(settings, engine, now=now + timedelta(minutes=11))
    assert [s.counts.read for s in later] == [0]


async def test_the_scheduler_starts_and_stops_with_the_app(
    hub_env: Path, world: World, engine: AsyncEngine
) -> None:
    await world.tree()
    scheduler = SyncScheduler(Settings(), engine, tick_seconds=0.05)
    scheduler.start()
    await scheduler.stop()
