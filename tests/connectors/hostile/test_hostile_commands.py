"""What an operator types: `hub connectors check`, `hub sync` failures, `hub quarantine list|retry`,
and `hub --help` answering at once."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from hub.cli import app
from hub.storage.models import (
    ConnectorRun,
    ConnectorState,
    QuarantinedRecord,
    Resident,
    Vaccination,
)
from hub.storage.session import create_sessionmaker
from hub.sync import sync_source
from tests.conftest import World, open_engine
from tests.connectors.hostile.support import BUILDING, bounded
from tests.connectors.support import id_number, police_record, police_source

CONFIG = """
[connectors.health]
kind = "files"
directory = "{directory}"

[connectors.health.streams.exports]
pattern = "*.csv"
target = "vaccination"

[connectors.health.streams.exports.fields]
source_record_id = "编号"
source_updated_at = "更新时间"
id_number = "身份证号"
vaccine = "疫苗"
dose_number = "剂次"
administered_on = {{ path = "{date_column}", formats = ["%Y%m%d"] }}
"""
HEADERS = ["编号", "更新时间", "身份证号", "疫苗", "剂次", "接种日期"]
PEOPLE = 3


def export(directory: Path, rows: list[list[Any]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([HEADERS, *rows])
    (directory / "接种.csv").write_text(buffer.getvalue(), encoding="utf-8")


def row(n: int, person: int | None = None, **changes: Any) -> list[Any]:
    values = {
        "编号": f"V-{n:05d}", "更新时间": "2024-03-05 10:00:00",
        "身份证号": id_number(n % PEOPLE if person is None else person),
        "疫苗": "乙肝疫苗", "剂次": 1, "接种日期": "20240305",
    } | changes  # fmt: skip
    return [values[h] for h in HEADERS]


@pytest.fixture
def exports(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A health department's export folder, its connectors file, and a hub with PEOPLE residents."""
    folder = tmp_path / "exports"
    folder.mkdir()
    write_config(tmp_path, folder, date_column="接种日期")
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_CONNECTORS", str(tmp_path / "connectors.toml"))

    async def seed() -> None:
        engine = open_engine(database_url)
        await World(create_sessionmaker(engine)).tree()
        people = [police_record(n, grid=BUILDING) for n in range(PEOPLE)]
        await sync_source(engine, police_source(people))
        await engine.dispose()

    asyncio.run(seed())
    return folder


def write_config(root: Path, folder: Path, *, date_column: str) -> None:
    text = CONFIG.format(directory=folder, date_column=date_column)
    (root / "connectors.toml").write_text(text, encoding="utf-8")


def hub(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def counts(database_url: str) -> dict[str, int]:
    async def count() -> dict[str, int]:
        engine = open_engine(database_url)
        found = {}
        async with create_sessionmaker(engine)() as session:
            for model in (Vaccination, QuarantinedRecord, ConnectorState, ConnectorRun, Resident):
                found[model.__tablename__] = await session.scalar(
                    select(func.count()).select_from(model)
                )
        await engine.dispose()
        return {k: int(v or 0) for k, v in found.items()}

    return asyncio.run(count())


BROKEN = """
[code_tables.gender]
"1" = "MALE"

[connectors."[red]police[/red]"]
kind = "http"
base_url = "http://127.0.0.1:1"
timezone = "Beijing"
pagination = { style = "page" }

[connectors."[red]police[/red]".streams.households]
path = "/households"
pagination = { style = "page", page_sise = 50 }
target = "household_registration"

[connectors."[red]police[/red]".streams.households.fields]
source_record_id = "id"
source_updated_at = { paht = "updated_at" }
id_number = "sfzh"
registered_on = { path = "djrq", format = ["%Y%m%d"] }
"[b]status[/b]" = "zt"

[connectors.health]
kind = "files"
directory_env = "HEALTH_EXPORTS_UNSET"

[connectors.health.streams.exports]
pattern = "*.csv"
target = "vaccination"
fields = { source_record_id = "id", source_updated_at = "t", id_number = "n", vaccine = "v", dose_number = "d", administered_on = "a", institution = { path = "o", codes = "clinics" } }
"""


def test_check_lists_every_problem_at_once_with_key_paths_and_plain_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "connectors.toml"
    toml.write_text(BROKEN, encoding="utf-8")
    monkeypatch.setenv("HUB_CONNECTORS", str(toml))
    with bounded(seconds=10, megabytes=40):
        result = hub("connectors", "check")
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    police = f"{toml}: connectors.[red]police[/red]"
    expected = [
        f"{police}.pagination: 'pagination' does not belong here; see connectors/README.md for where it goes",
        f"{police}.streams.households.fields.[b]status[/b]: unknown field '[b]status[/b]'; did you mean 'status'?",
        f"{police}.streams.households.fields.registered_on.format: unknown key 'format'; did you mean 'formats'?",
        f"{police}.streams.households.fields.source_updated_at.paht: unknown key 'paht'; did you mean 'path'?",
        f"{police}.streams.households.fields: missing mapping for registration_type, household_number, relation_to_head, registered_address, police_station, status",
        f"{police}.streams.households.pagination.page_sise: unknown key 'page_sise'; did you mean 'page_size'?",
        f"{police}.timezone: expected a UTC offset such as +08:00, got 'Beijing'",
        f"{toml}: connectors.health.streams.exports.fields.institution.codes: no code table 'clinics' under [code_tables]",
    ]  # fmt: skip
    assert sorted(lines[:-1]) == sorted(expected)
    assert lines[-1] == f"8 problem(s) in {toml}"
    for internal in (
        "Value error",
        "function-after",
        "FieldSpec",
        "Input should be a valid string",
    ):
        assert internal not in result.stdout

    only_health = hub("connectors", "check", "health")
    assert only_health.exit_code == 1
    assert "police" not in only_health.stdout
    sync = hub("sync")
    assert sync.exit_code == 1
    assert len(sync.output.strip().splitlines()) == 1
    assert "more: `hub connectors check` lists every one" in sync.output


def test_check_names_unset_variables_and_missing_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = BROKEN.split("[connectors.health]")[1].replace(', codes = "clinics"', "")
    toml = tmp_path / "connectors.toml"
    toml.write_text("[connectors.health]" + config, encoding="utf-8")
    monkeypatch.setenv("HUB_CONNECTORS", str(toml))
    monkeypatch.delenv("HEALTH_EXPORTS_UNSET", raising=False)
    with bounded(seconds=10, megabytes=40):
        first = hub("connectors", "check")
    assert first.exit_code == 1
    assert "connectors.health: environment variable HEALTH_EXPORTS_UNSET is not set" in first.stdout
    monkeypatch.setenv("HEALTH_EXPORTS_UNSET", str(tmp_path / "nowhere"))
    second = hub("connectors", "check")
    assert "does not exist" in second.stdout
    (tmp_path / "nowhere").mkdir()
    third = hub("connectors", "check", "--json")
    assert third.exit_code == 0
    assert json.loads(third.stdout)["problems"] == []


def test_check_sample_shows_what_records_would_become_and_writes_nothing(
    exports: Path, database_url: str
) -> None:
    export(exports, [
        row(1), row(2),
        row(3, 接种日期="去年"),                                     # SCHEMA_ERROR
        row(4, person=PEOPLE + 5),                                  # not a resident
        row(5, 身份证号="410105198001011234"),                       # bad check digit
        row(6, 更新时间="2999-01-01 00:00:00"),                      # FUTURE_TIMESTAMP
    ])  # fmt: skip
    before = counts(database_url)
    with bounded(seconds=15, megabytes=60):
        result = hub("connectors", "check", "health", "--sample", "10", "--json")
    assert result.exit_code == 0, result.output
    (sample,) = json.loads(result.stdout)["samples"]
    outcomes = {r["key"]: r["outcome"] for r in sample["records"]}
    assert outcomes == {
        "V-00001": "inserted", "V-00002": "inserted", "V-00003": "SCHEMA_ERROR",
        "V-00004": "UNMATCHED_RESIDENT", "V-00005": "INVALID_ID_NUMBER", "V-00006": "FUTURE_TIMESTAMP",
    }  # fmt: skip
    first = sample["records"][0]["mapped"]
    assert (first["vaccine"], first["administered_on"]) == ("乙肝疫苗", "2024-03-05")
    assert sample["verdict"] is None
    assert counts(database_url) == before  # nothing written, quarantined, or moved

    text = hub("connectors", "check", "health", "--sample", "3")
    assert "health/exports: 3 record(s) of the first page" in text.stdout
    assert "SCHEMA_ERROR" in text.stdout
    assert counts(database_url) == before


def test_a_failed_sync_says_how_to_recover_and_the_fixed_file_ingests_everything(
    exports: Path, database_url: str, tmp_path: Path
) -> None:
    export(exports, [row(n) for n in range(8)])
    write_config(tmp_path, exports, date_column="日期")  # a wrong column name
    check = hub("connectors", "check", "--sample", "8")
    assert check.exit_code == 1
    assert (
        "a run would fail: 8 of the 8 records of one batch did not fit the mapping" in check.stdout
    )
    with bounded(seconds=15, megabytes=60):
        failed = hub("sync")
    assert failed.exit_code == 1
    assert "error: health/exports: 8 of the 8 records of one batch did not fit" in failed.output
    assert "`hub sync health --accept-rejections`" in failed.output
    assert counts(database_url)["health_vaccinations"] == 0
    assert counts(database_url)["quarantine"] == 0

    write_config(tmp_path, exports, date_column="接种日期")
    fixed = hub("sync", "--json")
    assert fixed.exit_code == 0, fixed.output
    (run,) = [r for r in json.loads(fixed.stdout) if r["connector"] == "health"]
    assert (run["status"], run["inserted"], run["quarantined"]) == ("SUCCEEDED", 8, 0)


def test_quarantine_list_pages_and_filters_and_retry_takes_the_same_filters(
    exports: Path, database_url: str, tmp_path: Path
) -> None:
    rows = [row(n, person=PEOPLE + n) for n in range(5)]  # unknown people
    rows += [row(n, 接种日期="不详") for n in range(5, 7)]  # bad dates
    export(exports, rows)
    assert hub("sync", "--accept-rejections").exit_code == 0
    with bounded(seconds=10, megabytes=40):
        page = hub("quarantine", "list", "--limit", "3", "--json")
    listed = json.loads(page.stdout)
    assert [r["record_key"] for r in listed] == ["V-00000", "V-00001", "V-00002"]
    assert f"more follow: hub quarantine list --after {listed[-1]['id']}" in page.stderr
    rest = json.loads(hub("quarantine", "list", "--after", str(listed[-1]["id"]), "--json").stdout)
    assert [r["record_key"] for r in rest] == ["V-00003", "V-00004", "V-00005", "V-00006"]
    every = json.loads(hub("quarantine", "list", "--all", "--limit", "1", "--json").stdout)
    assert len(every) == 7
    dates = hub("quarantine", "list", "--reason", "SCHEMA_ERROR", "--stream", "exports", "--json")
    assert [r["record_key"] for r in json.loads(dates.stdout)] == ["V-00005", "V-00006"]
    none = hub("quarantine", "list", "--connector", "police", "--json")
    assert json.loads(none.stdout) == []

    retried = hub("quarantine", "retry", "--reason", "SCHEMA_ERROR", "--json")
    assert json.loads(retried.stdout) == {
        "retried": 2, "resolved": 0, "remaining": 2, "skipped_streams": []
    }  # fmt: skip
    assert "markup" not in hub("quarantine", "list").stdout  # the table prints


HEAVY = ("sqlalchemy", "connectors", "hub.sync", "hub.storage", "uvicorn", "pydantic", "strawberry")


def test_hub_help_answers_at_once_without_loading_the_hub() -> None:
    hub_bin = Path(sys.executable).with_name("hub")
    env = os.environ | {"COLUMNS": "100"}
    cpu, wall = [], []
    for _ in range(3):
        before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        done = subprocess.run([str(hub_bin), "--help"], capture_output=True, env=env, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall.append(time.monotonic() - started)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    assert "connectors  Configured connectors: list, status, check." in done.stdout.decode()
    assert min(cpu) < 0.5, cpu  # CPU, not wall time: the machine is shared
    assert min(wall) < 2.0, wall
    probe = "import sys; from hub.cli import app; print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True)
    modules = loaded.stdout.decode()
    assert not [m for m in HEAVY if f"'{m}'" in modules]
