"""The education bureau's 学籍 exports (教育局): a GBK CSV and an XLSX workbook, as clerks send them.

`学籍_YYYYMMDD.csv` holds the compulsory-education stages (小学, 初中) exported from the
national 学籍 system; `学籍_YYYYMMDD.xlsx` (sheet 学籍) holds 学前, 高中 and 中职 kept in
spreadsheets, so a connector needs both files for the full set. Both start with the header
row `HEADERS`. Values: 入学日期 `2023/9/1`, 更新时间 `2025-09-01 08:00:00` (China time), 年级
the grade within its stage (text in the CSV, a number in the workbook). A few 姓名 and 身份证号
carry trailing (full-width) spaces or a lower-case x, as hand-kept files do.

The CSV is GBK by default; `encoding` may also be `gb18030`, `utf-8-sig` (UTF-8 with BOM) or
`utf-8`. Files are written under a temporary name and renamed, so readers never see half a file.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from openpyxl import Workbook

from hub.clock import local_today
from hub.demo.simulators.world import EDUCATION_STREAM

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import date
    from pathlib import Path

    from hub.demo.simulators.raw import Raw
    from hub.demo.simulators.world import DepartmentWorld

HEADERS = (
    "学籍号",
    "身份证号",
    "姓名",
    "学校名称",
    "学段",
    "年级",
    "班级",
    "学籍状态",
    "入学日期",
    "更新时间",
)
CSV_STAGES = frozenset({"小学", "初中"})
ENCODINGS = ("gbk", "gb18030", "utf-8-sig", "utf-8")


@dataclass(frozen=True, slots=True)
class EducationExports:
    """What was written: the files and how many records each holds."""

    csv_path: Path
    xlsx_path: Path | None
    csv_rows: int
    xlsx_rows: int

    @property
    def paths(self) -> list[Path]:
        return [self.csv_path, *([self.xlsx_path] if self.xlsx_path else [])]


def _write_csv(path: Path, records: list[Raw], encoding: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")  # exported on Windows
        writer.writerow(HEADERS)
        writer.writerows([record[column] for column in HEADERS] for record in records)
    os.replace(partial, path)


def _write_xlsx(path: Path, records: list[Raw]) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("学籍")
    sheet.append(list(HEADERS))
    for record in records:
        sheet.append([record[column] for column in HEADERS])
    partial = path.with_name(f".{path.name}.partial")
    workbook.save(partial)
    os.replace(partial, path)


def _in_export_order(records: Iterable[Raw]) -> list[Raw]:
    return sorted(records, key=lambda record: (record["学校名称"], record["学籍号"]))


def write_education_exports(
    directory: Path,
    world: DepartmentWorld,
    *,
    encoding: str = "gbk",
    xlsx: bool = True,
    exported_on: date | None = None,
) -> EducationExports:
    """Write the exports of `world` into `directory`; without `xlsx`, the CSV holds everything."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    stamp = (exported_on or local_today()).strftime("%Y%m%d")
    directory.mkdir(parents=True, exist_ok=True)
    records = _in_export_order(world.streams[EDUCATION_STREAM].records.values())
    in_csv = [r for r in records if not xlsx or r["学段"] in CSV_STAGES]
    in_xlsx = [r for r in records if xlsx and r["学段"] not in CSV_STAGES]
    csv_path = directory / f"学籍_{stamp}.csv"
    _write_csv(csv_path, in_csv, encoding)
    xlsx_path = directory / f"学籍_{stamp}.xlsx" if xlsx else None
    if xlsx_path is not None:
        _write_xlsx(xlsx_path, in_xlsx)
    return EducationExports(csv_path, xlsx_path, len(in_csv), len(in_xlsx))
