"""XLSX exports, streamed row by row, where one cell openpyxl cannot read spoils only its row.

openpyxl's read-only worksheets convert every cell of every row in one XML parser: a cell
it cannot convert (a number that is not one, a date serial outside the calendar, a broken
shared-string index) ends the whole iteration, and the rows after it could never be read.
`_TolerantParser` converts cell by cell instead and turns such a cell into a `BadCell`, so
the row becomes an unreadable record and the sheet goes on. It builds on openpyxl 3.1's
read-only internals (`WorkSheetParser`, the workbook's date formats and archive), which
`xlsx_rows` touches in one place.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from openpyxl import load_workbook
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.worksheet._reader import WorkSheetParser

from connectors.config import FilesStream as FilesStreamConfig
from connectors.errors import FatalError
from connectors.tabular import BadCell, Rows, header_names, row_record

# openpyxl warns, then stores "#VALUE!", for a date serial outside the calendar; the cell is
# reported as bad instead (below), so the warning would only repeat it.
warnings.filterwarnings("ignore", message=r"Cell .* is marked as a date", module="openpyxl")


class _TolerantParser(WorkSheetParser):  # type: ignore[misc]  # openpyxl is untyped
    def parse_cell(self, element: Any) -> dict[str, Any]:
        coordinate = element.get("r")
        outside = f"cell {coordinate}: a date outside the calendar"
        try:
            cell: dict[str, Any] = super().parse_cell(element)
        except Exception as error:  # whatever openpyxl raises spoils this cell only
            if isinstance(error, Warning) and "marked as a date" in str(error):
                return self._bad(coordinate, outside)  # the warning, where warnings are errors
            return self._bad(coordinate, f"cell {coordinate}: {type(error).__name__}: {error}")
        if cell["data_type"] == "e" and element.get("t") != "e":  # converted into an error
            return self._bad(coordinate, outside)
        return cell

    def _bad(self, coordinate: str | None, problem: str) -> dict[str, Any]:
        if coordinate:
            row, column = coordinate_to_tuple(coordinate)
        else:
            counters: dict[str, int] = self.__dict__  # openpyxl's (untyped) position counters
            row, column = counters["row_counter"], counters["col_counter"] + 1
        self.col_counter = column
        return {"row": row, "column": column, "value": BadCell(problem), "data_type": "e"}


def xlsx_rows(path: Path, config: FilesStreamConfig, skip: int) -> Rows:
    """Data rows after the first `skip` (blank and missing rows count); FatalError for a file
    that is not a readable workbook."""
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ParseError, OSError, ValueError) as error:
        raise FatalError(
            f"{path.name}: not a readable workbook ({error}); replace the export"
        ) from None
    try:
        sheet = _sheet(path, workbook, config.sheet)
        yield from _data_rows(path, workbook, sheet, config, skip)
    except (zipfile.BadZipFile, ParseError) as error:
        raise FatalError(
            f"{path.name}: the workbook is damaged ({error}); replace the export"
        ) from None
    finally:
        workbook.close()


def _sheet(path: Path, workbook: Any, name: str | None) -> Any:
    if name is None:
        return workbook.worksheets[0]
    if name not in workbook.sheetnames:
        known = ", ".join(workbook.sheetnames)
        raise FatalError(f"{path.name}: no sheet {name!r} (sheets: {known}); check `sheet`")
    return workbook[name]


def _data_rows(path: Path, workbook: Any, sheet: Any, config: FilesStreamConfig, skip: int) -> Rows:
    headers: list[str] = []
    first_data = config.header_row + 1 + skip
    expected = 1  # the next sheet row; rows the XML leaves out are blank
    with sheet._get_source() as source:
        parser = _TolerantParser(
            source, workbook.shared_strings, data_only=True, epoch=workbook.epoch,
            date_formats=workbook._date_formats, timedelta_formats=workbook._timedelta_formats,
        )  # fmt: skip
        for number, cells in parser.parse():
            for blank in range(expected, number):
                if blank >= first_data:
                    yield None
            expected = number + 1
            if number == config.header_row:
                headers = header_names(path, _values(cells))
            elif number >= first_data:
                yield row_record(headers, _values(cells))


def _values(cells: list[dict[str, Any]]) -> list[Any]:
    width = max((cell["column"] for cell in cells), default=0)
    values: list[Any] = [None] * width
    for cell in cells:
        values[cell["column"] - 1] = cell["value"]
    return values
