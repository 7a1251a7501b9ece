"""`files` sources: GBK, GB18030 and UTF-8 (with or without BOM) CSV and XLSX exports with Chinese headers."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from connectors.base import Batch, Cursor
from connectors.files import DETECTION_PREFIX, FilesSource, detect_encoding
from connectors.registry import build_source
from hub.storage.models import RunStatus, SchoolEnrollment
from hub.sync import sync_source
from tests.conftest import World
from tests.connectors.support import connectors_config, id_number, police_record, police_source

HEADERS = [
    "学籍号",
    "姓名",
    "身份证号",
    "学校名称",
    "学段",
    "年级",
    "班级",
    "学籍状态",
    "入学日期",
    "更新时间",
]
FIELDS = {
    "source_record_id": "学籍号",
    "source_updated_at": "更新时间",
    "id_number": "身份证号",
    "school": "学校名称",
    "stage": {
        "path": "学段",
        "codes": {"小学": "PRIMARY", "初中": "JUNIOR_SECONDARY", "高中": "SENIOR_SECONDARY"},
    },
    "grade": "年级",
    "class_name": "班级",
    "status": {
        "path": "学籍状态",
        "codes": {"在读": "ENROLLED", "休学": "SUSPENDED", "毕业": "GRADUATED"},
    },
    "enrolled_on": {"path": "入学日期", "formats": ["%Y年%m月%d日", "%Y/%m/%d", "%Y-%m-%d"]},
}


def student(n: int, **overrides: Any) -> list[Any]:
    row: dict[str, Any] = {
        "学籍号": f"G{n:06d}", "姓名": f"学生{n}", "身份证号": id_number(n), "学校名称": "郑州市金水区纬五路第一小学",
        "学段": "小学", "年级": 3, "班级": "三（2）班", "学籍状态": "在读", "入学日期": "2021年9月1日",
        "更新时间": "2024-03-05 08:00:00",
    } | overrides  # fmt: skip
    return [row[h] for h in HEADERS]


def write_csv(path: Path, rows: list[list[Any]], *, encoding: str) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADERS, *rows])
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_xlsx(path: Path, rows: list[list[Any]]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "学籍"
    for row in [HEADERS, *rows]:
        sheet.append(row)
    workbook.save(path)


def files_source(
    directory: Path, pattern: str = "*.csv", *, batch_size: int = 10, **stream: Any
) -> FilesSource:
    settings = {
        "pattern": pattern,
        "target": "school_enrollment",
        "fields": FIELDS,
        "batch_size": batch_size,
    } | stream
    config = connectors_config(
        {
            "education": {
                "kind": "files",
                "directory": str(directory),
                "streams": {"enrollments": settings},
            }
        }
    )
    source = build_source(config, "education", env={})
    assert isinstance(source, FilesSource)
    return source


async def read_all(source: FilesSource, cursor: Cursor | None = None) -> list[Batch]:
    async with source:
        return [batch async for batch in source.streams["enrollments"].read(cursor)]


def record_ids(batches: list[Batch]) -> list[str]:
    return [r["学籍号"] for b in batches for r in b.records]


@pytest.mark.parametrize(
    "encoding",
    ["gbk", "gb18030", "utf-8-sig", "utf-8"],
    ids=["gbk", "gb18030", "utf-8-bom", "utf-8"],
)
async def test_csv_exports_are_decoded_whatever_their_encoding(
    tmp_path: Path, encoding: str
) -> None:
    # 㐀 (U+3400) exists in GB18030 but not in GBK: only the GB18030 file carries it.
    name = "㐀同学" if encoding == "gb18030" else "欧阳同学"
    write_csv(tmp_path / "学籍.csv", [student(1, 姓名=name), student(2)], encoding=encoding)
    batches = await read_all(files_source(tmp_path))
    first = batches[0].records[0]
    assert (first["姓名"], first["学校名称"], first["班级"]) == (
        name,
        "郑州市金水区纬五路第一小学",
        "三（2）班",
    )
    assert record_ids(batches) == ["G000001", "G000002"]


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-8", "utf-8-sig"),
    ],
)
def test_encoding_is_detected_from_a_prefix_of_the_file(
    tmp_path: Path, encoding: str, detected: str
) -> None:
    path = tmp_path / "big.csv"
    write_csv(path, [student(n) for n in range(3000)], encoding=encoding)
    assert path.stat().st_size > 64 * 1024 * 3
    assert detect_encoding(path) == detected


async def test_xlsx_exports_are_read_with_typed_cells(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "学籍.xlsx", [student(n) for n in range(1, 26)])
    batches = await read_all(files_source(tmp_path, "*.xlsx"))
    assert record_ids(batches) == [f"G{n:06d}" for n in range(1, 26)]
    assert batches[0].records[0]["年级"] == 3
    assert batches[0].records[0]["_row"] == 2


async def test_a_file_is_processed_once_and_again_when_its_content_changes(tmp_path: Path) -> None:
    path = tmp_path / "学籍.csv"
    write_csv(path, [student(1), student(2)], encoding="gbk")
    first = await read_all(files_source(tmp_path))
    cursor = first[-1].cursor
    assert cursor["current"] is None
    assert "学籍.csv" in cursor["done"]
    assert record_ids(await read_all(files_source(tmp_path), cursor)) == []
    write_csv(path, [student(1), student(2, 学籍状态="毕业"), student(3)], encoding="gbk")
    assert record_ids(await read_all(files_source(tmp_path), cursor)) == [
        "G000001",
        "G000002",
        "G000003",
    ]


async def test_a_new_file_is_read_and_done_files_are_skipped(tmp_path: Path) -> None:
    write_csv(tmp_path / "2024-03.csv", [student(1)], encoding="gbk")
    cursor = (await read_all(files_source(tmp_path)))[-1].cursor
    write_csv(tmp_path / "2024-04.csv", [student(2)], encoding="gbk")
    assert record_ids(await read_all(files_source(tmp_path), cursor)) == ["G000002"]


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
async def test_a_crash_mid_file_resumes_at_the_next_row(tmp_path: Path, suffix: str) -> None:
    rows = [student(n) for n in range(1, 36)]
    if suffix == "csv":
        write_csv(tmp_path / "学籍.csv", rows, encoding="gb18030")
    else:
        write_xlsx(tmp_path / "学籍.xlsx", rows)
    first_two = (await read_all(files_source(tmp_path, f"*.{suffix}")))[:2]
    assert first_two[-1].cursor["current"]["row"] == 20
    rest = await read_all(files_source(tmp_path, f"*.{suffix}"), first_two[-1].cursor)
    assert record_ids(first_two) + record_ids(rest) == [f"G{n:06d}" for n in range(1, 36)]


async def test_blank_lines_are_skipped_but_counted_as_rows(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(
        ",".join(HEADERS)
        + "\n"
        + ",".join(map(str, student(1)))
        + "\n,,,,\n"
        + ",".join(map(str, student(2)))
        + "\n",
        encoding="utf-8",
    )
    batches = await read_all(files_source(tmp_path))
    assert [r["_row"] for b in batches for r in b.records] == [2, 4]


async def test_files_sync_end_to_end_writes_enrollments_and_counts_them(
    tmp_path: Path,
    world: World,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await world.tree()
    await sync_source(
        engine, police_source([police_record(n, grid="410105001001001") for n in range(1, 5)])
    )
    write_csv(
        tmp_path / "学籍.csv",
        [student(n) for n in range(1, 6)] + [student(6, 入学日期="九月")],
        encoding="gbk",
    )
    (summary,) = await sync_source(engine, files_source(tmp_path, batch_size=4))
    assert summary.status is RunStatus.SUCCEEDED
    c = summary.counts
    assert (c.read, c.inserted, c.quarantined) == (6, 4, 2)  # G5: unknown resident, G6: bad date
    (again,) = await sync_source(engine, files_source(tmp_path, batch_size=4))
    assert again.counts.read == 0
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(SchoolEnrollment)) == 4


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8-sig"), ("gbk", "gb18030")],
)
def test_encoding_is_detected_when_the_prefix_ends_inside_a_character(
    tmp_path: Path, encoding: str, detected: str
) -> None:
    path = tmp_path / "cut.csv"
    path.write_bytes(cut_inside_a_character(encoding))

    assert detect_encoding(path) == detected


def cut_inside_a_character(encoding: str) -> bytes:
    """Chinese CSV bytes whose first DETECTION_PREFIX bytes end partway into a character."""
    rows = "金水区文化路第一小学,张伟\n" * 5000
    for pad in range(4):
        data = ("学校名称,姓名\n" + "x" * pad + rows).encode(encoding)
        try:
            data[:DETECTION_PREFIX].decode(encoding)
        except UnicodeDecodeError:
            return data
    raise AssertionError("no padding puts the cut inside a character")
