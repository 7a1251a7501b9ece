"""Broken CSV and XLSX exports in a real folder: a bad row is quarantined and the file goes on."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.base import Source
from connectors.registry import build_source
from hub.storage.models import QuarantinedRecord, RunStatus, Vaccination
from hub.storage.session import create_sessionmaker
from tests.conftest import World
from tests.connectors.hostile.support import bounded, residents, run
from tests.connectors.support import connectors_config, id_number

HEADERS = ["编号", "更新时间", "身份证号", "疫苗", "剂次", "接种日期"]
FIELDS = {
    "source_record_id": "编号",
    "source_updated_at": "更新时间",
    "id_number": "身份证号",
    "vaccine": "疫苗",
    "dose_number": "剂次",
    "administered_on": {"path": "接种日期", "formats": ["%Y%m%d"]},
}
SUCCEEDED, FAILED = RunStatus.SUCCEEDED, RunStatus.FAILED
PEOPLE = 40


def row(n: int, **overrides: Any) -> list[Any]:
    values = {
        "编号": f"V-{n:05d}", "更新时间": "2024-03-05 10:00:00", "身份证号": id_number(n % PEOPLE),
        "疫苗": "乙肝疫苗", "剂次": 1, "接种日期": "20240305",
    } | overrides  # fmt: skip
    return [values[h] for h in HEADERS]


def csv_text(rows: list[list[Any]], headers: list[str] = HEADERS) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([headers, *rows])
    return buffer.getvalue()


def files_source(directory: Path, pattern: str = "*.csv", **stream: Any) -> Source:
    settings = {"pattern": pattern, "target": "vaccination", "fields": FIELDS, "batch_size": 100}
    config = {
        "kind": "files",
        "directory": str(directory),
        "streams": {"exports": settings | stream},
    }
    return build_source(connectors_config({"health": config}), "health", env={})


def ids(*numbers: int) -> list[str]:
    return sorted(f"V-{n:05d}" for n in numbers)


async def details(engine: AsyncEngine) -> list[tuple[str, str, Any]]:
    async with create_sessionmaker(engine)() as session:
        rows = await session.execute(
            select(QuarantinedRecord.reason, QuarantinedRecord.message, QuarantinedRecord.detail)
        )
        return [(reason.value, message, detail) for reason, message, detail in rows]


async def vaccines(engine: AsyncEngine) -> list[str]:
    async with create_sessionmaker(engine)() as session:
        query = select(Vaccination.vaccine).order_by(Vaccination.source_record_id)
        return list(await session.scalars(query))


async def test_a_bad_byte_past_the_detection_sample_spoils_only_its_row(
    tmp_path: Path, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine, PEOPLE)
    note = "无异常反应" * 30  # an unmapped column: a long export in few rows
    rows = [[*row(n), note] for n in range(400)]
    data = csv_text(rows, [*HEADERS, "备注"]).encode("utf-8")
    at = data.index(b"V-00200,")
    assert at > 64 * 1024
    assert len(data) - at > 64 * 1024
    data = data.replace(b"V-00200,2024-03-05 10:00:00", b"V-00200,2024-03-05 10:0\xff:00")
    (tmp_path / "接种.csv").write_bytes(data)
    with bounded(seconds=20, megabytes=40):
        done = await run(engine, files_source(tmp_path))
    assert done.summary.status is SUCCEEDED
    assert done.written == ids(*(n for n in range(400) if n != 200))
    assert list(done.quarantined.values()) == ["UNREADABLE"]
    ((_, message, where),) = await details(engine)
    assert (
        message
        == "line 202 holds bytes that are not valid utf-8-sig; fix the export or set `encoding`"
    )
    assert where == {"_file": "接种.csv", "_line": 202, "_row": 202}
    assert done.cursor["current"] is None
    assert "接种.csv" in done.cursor["done"]


@pytest.mark.parametrize(
    ("length", "megabytes"), [(2 << 20, 24), (50 << 20, 24)], ids=["2-MiB-field", "50-MiB-line"]
)
async def test_an_over_long_line_spoils_only_its_row_and_memory_stays_bounded(
    tmp_path: Path, world: World, engine: AsyncEngine, length: int, megabytes: int
) -> None:
    await residents(world, engine, PEOPLE)
    with (tmp_path / "接种.csv").open("w", encoding="utf-8", newline="") as out:
        out.write(csv_text([row(n) for n in range(10)]))
        out.write("V-00010,2024-03-05 10:00:00,x," + "a" * length + ",1,20240305\n")
        out.write(csv_text([row(n) for n in range(11, 20)]).split("\n", 1)[1])
    with bounded(seconds=30, megabytes=megabytes):
        done = await run(engine, files_source(tmp_path))
    assert done.summary.status is SUCCEEDED
    assert done.written == ids(*(n for n in range(20) if n != 10))
    ((reason, message, where),) = await details(engine)
    assert reason == "UNREADABLE"
    assert message.startswith("line 12 is ")
    assert "characters long (max_row_size 1,048,576)" in message
    assert where["_line"] == 12
    assert done.cursor["current"] is None


async def test_a_field_over_the_csv_field_limit_spoils_only_its_row(
    tmp_path: Path, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine, PEOPLE)
    quoted = 'V-00003,2024-03-05 10:00:00,x,"' + "a" * 900 + "\n" + "b" * 900 + '",1,20240305\n'
    text = csv_text([row(n) for n in range(3)]) + quoted
    text += csv_text([row(n) for n in range(4, 8)]).split("\n", 1)[1]
    (tmp_path / "接种.csv").write_text(text, encoding="utf-8")
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, files_source(tmp_path, max_row_size="1KiB"))
    assert done.summary.status is SUCCEEDED
    assert done.written == ids(0, 1, 2, 4, 5, 6, 7)
    ((reason, message, where),) = await details(engine)
    assert (reason, where["_line"]) == ("UNREADABLE", 5)
    assert "field larger than field limit (1024)" in message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
async def test_utf16_with_a_byte_order_mark_is_read(
    tmp_path: Path, world: World, engine: AsyncEngine, encoding: str
) -> None:
    await residents(world, engine, PEOPLE)
    text = csv_text([row(n, 疫苗="百白破疫苗") for n in range(5)])
    data = text.encode(encoding)
    if encoding != "utf-16":  # the -le/-be codecs write no BOM: the exporter did
        data = ("\ufeff" + text).encode(encoding)
    (tmp_path / "接种.csv").write_bytes(data)
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, files_source(tmp_path))
    assert done.summary.status is SUCCEEDED
    assert done.written == ids(*range(5))
    assert await vaccines(engine) == ["百白破疫苗"] * 5
    assert (done.quarantined, done.cursor["current"]) == ({}, None)


async def test_a_short_gb18030_export_is_detected_and_read_without_mojibake(
    tmp_path: Path, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine, PEOPLE)
    headers = ["id", "updated", "idno", "vaccine", "dose", "date"]  # a system's own column names
    fields = dict(zip(FIELDS, [*headers[:5], {"path": "date", "formats": ["%Y%m%d"]}], strict=True))
    names = ["脊灰疫苗", "㐀麻腮风疫苗"]  # 㐀 is in GB18030, not GBK
    rows = [row(n, 疫苗=name) for n, name in enumerate(names)]
    (tmp_path / "接种.csv").write_bytes(csv_text(rows, headers).encode("gb18030"))
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, files_source(tmp_path, fields=fields))
    assert done.summary.status is SUCCEEDED
    assert await vaccines(engine) == names
    assert (done.written, done.quarantined, done.cursor["current"]) == (ids(0, 1), {}, None)


async def test_the_streams_own_encoding_always_wins_over_detection(
    tmp_path: Path, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine, PEOPLE)
    headers = ["編號", "更新時間", "身份證號", "疫苗", "劑次", "接種日期"]  # a Big5 system's export
    fields = dict(
        zip(FIELDS, [*headers[:5], {"path": "接種日期", "formats": ["%Y%m%d"]}], strict=True)
    )
    names = ["乙型肝炎疫苗", "流感疫苗"]
    data = csv_text([row(n, 疫苗=name) for n, name in enumerate(names)], headers).encode("big5")
    data.decode("gb18030")  # valid GB18030 too: detection alone would read it wrong
    (tmp_path / "接种.csv").write_bytes(data)
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, files_source(tmp_path, encoding="big5", fields=fields))
    assert done.summary.status is SUCCEEDED
    assert await vaccines(engine) == names
    assert (done.written, done.quarantined, done.cursor["current"]) == (ids(0, 1), {}, None)


async def test_a_wrong_encoding_fails_the_run_by_the_rejection_limit_and_writes_nothing(
    tmp_path: Path, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine, PEOPLE)
    (tmp_path / "接种.csv").write_bytes(csv_text([row(n) for n in range(20)]).encode("gbk"))
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, files_source(tmp_path, encoding="utf-8"))
    assert done.summary.status is FAILED
    assert "20 of the 20 records of one batch did not fit the mapping" in str(done.summary.error)
    assert "UNREADABLE ×20 (line 1 holds bytes that are not valid utf-8" not in str(
        done.summary.error
    )
    assert "UNREADABLE ×20 (line 2 holds bytes that are not valid utf-8" in str(done.summary.error)
    assert (done.written, done.quarantined, done.cursor) == ([], {}, None)


async def test_a_header_naming_a_column_twice_refuses_the_file(
    tmp_path: Path, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine, PEOPLE)
    headers = ["编号", "疫苗", "更新时间", "身份证号", "疫苗", "剂次", "接种日期"]
    rows = [[f"V-{n:05d}", "乙肝", "2024-03-05 10:00:00", id_number(n), "百白破", 1, "20240305"]
            for n in range(3)]  # fmt: skip
    (tmp_path / "接种.csv").write_text(csv_text(rows, headers), encoding="utf-8")
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, files_source(tmp_path))
    assert done.summary.status is FAILED
    assert "接种.csv: the header row names '疫苗' twice (columns 2 and 5)" in str(
        done.summary.error
    )
    assert (done.written, done.quarantined, done.cursor) == ([], {}, None)


async def test_cells_beyond_the_header_spoil_only_their_row(
    tmp_path: Path, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine, PEOPLE)
    rows = [row(n) for n in range(6)]
    rows[2] = [*rows[2], "", "多出来的"]  # an empty trailing cell is fine; a value is not
    rows[4] = [*rows[4], ""]
    (tmp_path / "接种.csv").write_text(csv_text(rows), encoding="utf-8")
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, files_source(tmp_path))
    assert done.summary.status is SUCCEEDED
    assert done.written == ids(0, 1, 3, 4, 5)
    ((reason, message, where),) = await details(engine)
    assert reason == "UNREADABLE"
    assert message.startswith("1 value(s) outside the named columns, the first in column 8")
    assert where == {"_file": "接种.csv", "_line": 4, "_row": 4}


async def test_an_xlsx_cell_that_cannot_be_read_spoils_only_its_row(
    tmp_path: Path, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine, PEOPLE)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADERS)
    for n in range(6):
        sheet.append(row(n))
    broken = sheet.cell(row=4, column=6)  # row 3's 接种日期: a date serial beyond year 9999
    broken.value, broken.number_format = 1e10, "yyyy-mm-dd"
    workbook.save(tmp_path / "接种.xlsx")
    with bounded(seconds=10, megabytes=30):
        done = await run(engine, files_source(tmp_path, "*.xlsx"))
    assert done.summary.status is SUCCEEDED
    assert done.written == ids(0, 1, 3, 4, 5)
    ((reason, message, where),) = await details(engine)
    assert (reason, message) == ("UNREADABLE", "cell F4: a date outside the calendar")
    assert where == {"_file": "接种.xlsx", "_row": 4}
    assert done.cursor["current"] is None
    assert "接种.xlsx" in done.cursor["done"]
