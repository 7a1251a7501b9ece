"""The social security database, the education exports, and the simulators' command line."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import create_async_engine

from hub.demo.simulators import codes
from hub.demo.simulators.education_files import HEADERS, write_education_exports
from hub.demo.simulators.social_db import (
    TABLES,
    create_social_database,
    inject_social_bad_records,
    metadata,
    update_social_records,
)
from hub.demo.simulators.world import EDUCATION_STREAM, DepartmentWorld
from hub.identity import IdNumberError, validate_id_number

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from sqlalchemy import Table

POSTGRES_URL = os.environ.get("HUB_TEST_DATABASE_URL")
DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="HUB_TEST_DATABASE_URL is not set"),
    ),
]


@pytest.fixture
def world() -> DepartmentWorld:
    return DepartmentWorld.build(residents=800, seed=5)


@pytest.fixture(params=DATABASES)
async def social_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database to write the department tables into; on PostgreSQL they are dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'social.db'}"  # the plain URL form is accepted too
        return
    assert POSTGRES_URL is not None
    yield POSTGRES_URL
    engine = create_async_engine(POSTGRES_URL)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
    await engine.dispose()


async def _rows(url: str, table: Table) -> list[dict[str, Any]]:
    engine = create_async_engine(url.replace("sqlite://", "sqlite+aiosqlite://", 1))
    async with engine.connect() as connection:
        rows = [dict(row) for row in (await connection.execute(select(table))).mappings()]
    await engine.dispose()
    return rows


# --- social security database --------------------------------------------------------------------


async def test_social_database_holds_every_record_in_the_documented_columns(
    world: DepartmentWorld, social_url: str
) -> None:
    await create_social_database(social_url, world)
    engine = create_async_engine(social_url.replace("sqlite://", "sqlite+aiosqlite://", 1))
    async with engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: {t: [c["name"] for c in inspect(sync).get_columns(t)] for t in TABLES}
        )
    await engine.dispose()
    assert columns == {
        "si_enrollment": [
            "aac001",
            "aac002",
            "aac003",
            "aae140",
            "xzlx",
            "aac008",
            "aae030",
            "aab004",
            "updated_at",
        ],
        "sa_grant": [
            "id",
            "id_card",
            "name",
            "grant_type",
            "amount",
            "start_date",
            "end_date",
            "status",
            "updated_at",
        ],
    }
    for name, table in TABLES.items():
        rows = {
            row[table.primary_key.columns.keys()[0]]: row for row in await _rows(social_url, table)
        }
        assert rows == world.streams[name].records


async def test_social_rows_use_codes_and_naive_china_time(
    world: DepartmentWorld, social_url: str
) -> None:
    await create_social_database(social_url, world)
    stamps = world.streams["si_enrollment"].stamps
    for row in await _rows(social_url, TABLES["si_enrollment"]):
        assert row["aae140"] in {"110", "210", "310", "410", "510"}
        assert (row["xzlx"], row["aac008"]) in {(s, c) for s in ("职工", "居民") for c in "123"}
        assert isinstance(row["aae030"], date)
        assert row["updated_at"].tzinfo is None
        assert row["updated_at"] == codes.naive_local(stamps[row["aac001"]])
    grants = await _rows(social_url, TABLES["sa_grant"])
    assert {row["grant_type"] for row in grants} <= {"低保", "特困", "残疾人补贴"}
    assert {row["status"] for row in grants} <= {"在保", "暂停", "停保"}


async def test_about_a_third_of_social_rows_share_their_updated_at(
    world: DepartmentWorld, social_url: str
) -> None:
    await create_social_database(social_url, world)
    table = TABLES["si_enrollment"]
    engine = create_async_engine(social_url.replace("sqlite://", "sqlite+aiosqlite://", 1))
    async with engine.connect() as connection:
        tied = select(table.c.updated_at, func.count().label("n")).group_by(table.c.updated_at)
        counts = [row.n for row in await connection.execute(tied)]
    await engine.dispose()
    shared = sum(n for n in counts if n > 1)
    assert 0.2 <= shared / sum(counts) <= 0.5


async def test_updates_while_a_sync_runs_change_rows_and_stamp_them_newest(
    world: DepartmentWorld, social_url: str
) -> None:
    await create_social_database(social_url, world)
    table = TABLES["si_enrollment"]
    before = {row["aac001"]: row for row in await _rows(social_url, table)}
    touched = await update_social_records(social_url, world, count=6)
    after = {row["aac001"]: row for row in await _rows(social_url, table)}
    assert len(touched) == 6
    assert after.keys() == before.keys()
    newest = max(row["updated_at"] for key, row in before.items())
    for key in touched:
        assert after[key]["aac008"] != before[key]["aac008"]
        assert after[key]["updated_at"] > newest
    assert len({after[key]["updated_at"] for key in touched}) == 1  # one batch, one stamp
    untouched = set(before) - set(touched)
    assert all(after[key] == before[key] for key in untouched)


async def test_bad_records_can_be_added_to_the_social_database(
    world: DepartmentWorld, social_url: str
) -> None:
    await create_social_database(social_url, world)
    added = await inject_social_bad_records(
        social_url, world, table="sa_grant", invalid_id_numbers=2, unknown_residents=2
    )
    rows = {row["id"]: row for row in await _rows(social_url, TABLES["sa_grant"])}
    for key in added[:2]:
        with pytest.raises(IdNumberError):
            validate_id_number(rows[key]["id_card"])
    for key in added[2:]:
        validate_id_number(rows[key]["id_card"])
        assert rows[key]["id_card"] not in world.id_numbers


# --- education exports ---------------------------------------------------------------------------


def _csv_lines(path: Path, encoding: str) -> list[list[str]]:
    text = path.read_bytes().decode(encoding)
    assert text.endswith("\r\n")  # exported on Windows
    return list(csv.reader(io.StringIO(text)))


def test_education_csv_is_gbk_and_not_utf8(world: DepartmentWorld, tmp_path: Path) -> None:
    exports = write_education_exports(tmp_path, world, exported_on=date(2026, 9, 1))
    assert exports.csv_path.name == "学籍_20260901.csv"
    raw = exports.csv_path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    header, *rows = _csv_lines(exports.csv_path, "gbk")
    assert tuple(header) == HEADERS
    assert len(rows) == exports.csv_rows > 0
    assert {row[4] for row in rows} <= {"小学", "初中"}


def test_education_xlsx_is_readable_in_read_only_mode(
    world: DepartmentWorld, tmp_path: Path
) -> None:
    exports = write_education_exports(tmp_path, world, exported_on=date(2026, 9, 1))
    assert exports.xlsx_path is not None
    assert exports.xlsx_path.name == "学籍_20260901.xlsx"
    with closing(load_workbook(exports.xlsx_path, read_only=True)) as workbook:
        header, *rows = workbook["学籍"].iter_rows(values_only=True)
    assert header == HEADERS
    assert len(rows) == exports.xlsx_rows > 0
    assert {row[4] for row in rows} <= {"学前", "高中", "中职"}
    assert all(isinstance(row[1], str) and isinstance(row[5], int) for row in rows)


def test_both_files_are_needed_for_the_full_set(world: DepartmentWorld, tmp_path: Path) -> None:
    exports = write_education_exports(tmp_path, world)
    assert exports.xlsx_path is not None
    in_csv = {row[0] for row in _csv_lines(exports.csv_path, "gbk")[1:]}
    with closing(load_workbook(exports.xlsx_path, read_only=True)) as workbook:
        in_xlsx = {row[0] for row in workbook["学籍"].iter_rows(min_row=2, values_only=True)}
    assert in_csv
    assert in_xlsx
    assert not in_csv & in_xlsx
    assert in_csv | in_xlsx == set(world.streams[EDUCATION_STREAM].records)


def test_education_values_use_the_documented_formats(
    world: DepartmentWorld, tmp_path: Path
) -> None:
    exports = write_education_exports(tmp_path, world, xlsx=False)
    assert exports.xlsx_path is None
    rows = _csv_lines(exports.csv_path, "gbk")[1:]
    assert len(rows) == len(world.streams[EDUCATION_STREAM])
    for row in rows:
        assert re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", row[8])
        datetime.strptime(row[9], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 - naive China time
        assert row[7] in {"在读", "休学", "转出", "毕业", "辍学"}
    padded = [row[2] for row in rows if row[2] != row[2].strip()]
    assert padded, "some names should carry trailing spaces to exercise trimming"


@pytest.mark.parametrize(("encoding", "bom"), [("gb18030", b""), ("utf-8-sig", b"\xef\xbb\xbf")])
def test_education_csv_in_other_encodings(
    world: DepartmentWorld, tmp_path: Path, encoding: str, bom: bytes
) -> None:
    exports = write_education_exports(tmp_path, world, encoding=encoding)
    raw = exports.csv_path.read_bytes()
    assert raw.startswith(bom + "学籍号".encode(encoding.removesuffix("-sig")))


def _valid(number: str) -> bool:
    try:
        validate_id_number(number)
    except IdNumberError:
        return False
    return True


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture
def foreground(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    port_file = tmp_path / "simulators.json"
    command = [sys.executable, "-m", "hub.demo.simulators.run", "--dir", str(tmp_path / "d")]
    command += ["--residents", "150", "--port-file", str(port_file), "--bad-records", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield process, port_file
    if process.poll() is None:
        process.kill()
        process.wait()
    if process.stderr is not None:
        process.stderr.close()


def test_command_line_runs_until_terminated_and_publishes_a_port_file(
    foreground: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, port_file = foreground
    deadline = time.monotonic() + 30
    while not port_file.exists():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "no port file within 30 s"
        time.sleep(0.05)
    described = json.loads(port_file.read_text(encoding="utf-8"))
    assert port_file.stat().st_mode & 0o077 == 0  # it holds secrets
    env = described["env"]
    assert env["GRIDHUB_DEMO_POLICE_API_KEY"] == described["police"]["api_key"]
    headers = {"X-API-Key": env["GRIDHUB_DEMO_POLICE_API_KEY"]}
    url = f"{env['GRIDHUB_DEMO_POLICE_URL']}/api/households?page_size=1000"
    response = httpx.get(url, headers=headers)
    assert response.status_code == 200
    assert Counter(_valid(item["sfzh"]) for item in response.json()["items"])[False] == 1
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert not port_file.exists()
