"""Rows of a CSV or XLSX export as raw records: the header row, and each data row under it.

Shapes that do not fit are never coerced: a header row naming one column twice refuses
the file (which of the two would a mapping mean?), and a row with values outside the named
columns (more cells than headers, or a value under a blank header) becomes an unreadable
record rather than losing them.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from connectors.base import RawRecord, unreadable
from connectors.errors import FatalError
from connectors.jsonable import to_json_value

Rows = Generator["RawRecord | None", None, None]  # None: a blank row (it still counts as a row)
_SHOWN_CELLS = 1000  # characters of an unreadable row kept in its quarantine payload


class BadCell:
    """A cell the reader could not convert; the row it is in becomes unreadable."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def header_names(path: Path, row: Sequence[Any]) -> list[str]:
    """The column names; FatalError when one is given twice."""
    names = ["" if cell is None else str(cell).strip().lstrip("\ufeff") for cell in row]
    first: dict[str, int] = {}
    for column, name in enumerate(names, start=1):
        if name and name in first:
            raise FatalError(
                f"{path.name}: the header row names {name!r} twice (columns {first[name]} and "
                f"{column}); rename one in the export, then the file is read again"
            )
        first.setdefault(name, column)
    return names


def row_record(headers: list[str], values: Sequence[Any], **where: Any) -> RawRecord | None:
    """header → cell; None for a blank row; an unreadable record for cells outside the columns."""
    if bad := [v for v in values if isinstance(v, BadCell)]:
        return unreadable("; ".join(cell.problem for cell in bad), **where)
    cells = [to_json_value(v) for v in values]
    if all(c is None or c == "" for c in cells):
        return None
    outside = [
        (column, cell)
        for column, cell in enumerate(cells, start=1)
        if (column > len(headers) or not headers[column - 1]) and cell not in (None, "")
    ]
    if outside:
        column, cell = outside[0]
        problem = (
            f"{len(outside)} value(s) outside the named columns, the first in column {column} "
            f"({shown(cell)}); the row has more cells than the header row names"
        )
        return unreadable(problem, **where, _cells=cells)
    return {h: c for h, c in zip(headers, cells, strict=False) if h}


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}…"


def clipped(text: str) -> str:
    return text if len(text) <= _SHOWN_CELLS else f"{text[:_SHOWN_CELLS]}…"
