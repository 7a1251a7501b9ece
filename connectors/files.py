"""`files` sources: CSV and XLSX exports dropped in a folder, each processed once per content.

Cursor: `{"done": {relative name: sha256}, "current": {"file", "sha256", "row"} | null}`.
A file whose SHA-256 is in `done` is skipped; a changed file (new hash) is read again.
`current.row` counts the data rows of the file already written, so a crash mid-file resumes
at the next row. Files are streamed row by row (csv over a decoded text stream, openpyxl in
read-only mode), so memory stays flat however large the export. Exports should be written
elsewhere and moved into the folder, so a half-written file is never read.

Each record maps header → cell, plus `_file` (relative name), `_row` (1-based sheet row)
and `_file_mtime` (ISO UTC), which a mapping may use (e.g. as `source_updated_at`).
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import hashlib
import itertools
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import charset_normalizer
from openpyxl import load_workbook

from connectors.base import Batch, Cursor, RawRecord, Source, Stream
from connectors.config import FilesSourceConfig
from connectors.config import FilesStream as FilesStreamConfig
from connectors.errors import FatalError
from connectors.jsonable import to_json_value
from connectors.secrets import secret

DETECTION_PREFIX = 64 * 1024
_CHINESE_CODECS = frozenset({"gb2312", "gbk", "gb18030", "hz"})
Rows = Generator["RawRecord | None", None, None]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def detect_encoding(path: Path) -> str:
    """Guess from the first 64 KiB, not the whole file; GBK and GB2312 read as GB18030 (a superset)."""
    with path.open("rb") as stream:
        prefix = stream.read(DETECTION_PREFIX)
    if prefix.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    best = _detect(prefix)
    if best is None:
        raise FatalError(f"{path.name}: cannot tell its encoding; set `encoding` on the stream")
    name = codecs.lookup(best.encoding).name
    if name in _CHINESE_CODECS:
        return "gb18030"
    # ascii prefixes are read as UTF-8 (utf-8-sig also drops a BOM if there is one)
    return "utf-8-sig" if name in ("utf-8", "ascii") else name


def _detect(prefix: bytes) -> charset_normalizer.CharsetMatch | None:
    """The likeliest encoding of whole lines: a prefix cut inside a multibyte character
    misleads the detector (GBK read as cp874), and a newline byte never occurs inside a
    character in UTF-8, GBK or GB18030."""
    end = prefix.rfind(b"\n")
    return charset_normalizer.from_bytes(prefix[: end + 1] if end > 0 else prefix).best()


def _row_record(headers: list[str], values: tuple[Any, ...] | list[Any]) -> RawRecord | None:
    cells = [to_json_value(v) for v in values]
    if all(c is None or c == "" for c in cells):
        return None  # blank line
    return {h: c for h, c in zip(headers, cells, strict=False) if h}


def _headers(row: tuple[Any, ...] | list[Any]) -> list[str]:
    return ["" if cell is None else str(cell).strip().lstrip("\ufeff") for cell in row]


def csv_rows(path: Path, config: FilesStreamConfig, skip: int) -> Rows:
    encoding = config.encoding or detect_encoding(path)
    with path.open(encoding=encoding, newline="") as stream:
        reader = csv.reader(stream, delimiter=config.delimiter)
        rows = itertools.islice(reader, config.header_row - 1, None)
        headers = _headers(next(rows, []))
        for values in itertools.islice(rows, skip, None):
            yield _row_record(headers, values)


def xlsx_rows(path: Path, config: FilesStreamConfig, skip: int) -> Rows:
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook[config.sheet] if config.sheet else workbook.worksheets[0]
        header = next(
            sheet.iter_rows(min_row=config.header_row, max_row=config.header_row, values_only=True),
            (),
        )
        headers = _headers(header)
        first = config.header_row + 1 + skip
        for values in sheet.iter_rows(min_row=first, values_only=True):
            yield _row_record(headers, values)
    finally:
        workbook.close()


def read_rows(path: Path, config: FilesStreamConfig, skip: int) -> Rows:
    """Data rows after the first `skip`; None for a blank row (it still counts as a row)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return xlsx_rows(path, config, skip)
    return csv_rows(path, config, skip)


class FilesStream(Stream[FilesStreamConfig]):
    """The files of one glob pattern in the source folder, in name order."""

    directory: Path

    async def read(self, cursor: Cursor | None) -> AsyncIterator[Batch]:
        done: dict[str, str] = dict((cursor or {}).get("done", {}))
        current: dict[str, Any] | None = (cursor or {}).get("current")
        for path in sorted(p for p in self.directory.glob(self.config.pattern) if p.is_file()):
            name = path.relative_to(self.directory).as_posix()
            digest = await asyncio.to_thread(sha256_of, path)
            if done.get(name) == digest:
                continue
            resuming = current is not None and (current["file"], current["sha256"]) == (
                name,
                digest,
            )
            start = int(current["row"]) if resuming and current is not None else 0
            async for batch in self._read_file(path, name, digest, start, done):
                yield batch
            done[name] = digest
            current = None
            yield Batch([], {"done": dict(done), "current": None})

    async def _read_file(
        self, path: Path, name: str, digest: str, start: int, done: dict[str, str]
    ) -> AsyncIterator[Batch]:
        rows = read_rows(path, self.config, start)
        meta = {"_file": name, "_file_mtime": _mtime(path)}
        offset = start
        try:
            while chunk := await asyncio.to_thread(_take, rows, self.config.batch_size):
                records = [
                    {**row, **meta, "_row": self.config.header_row + offset + i + 1}
                    for i, row in enumerate(chunk)
                    if row is not None
                ]
                offset += len(chunk)
                current = {"file": name, "sha256": digest, "row": offset}
                yield Batch(records, {"done": dict(done), "current": current})
        finally:
            rows.close()  # closes the file or workbook even when the run stops mid-file


def _take(rows: Iterator[RawRecord | None], count: int) -> list[RawRecord | None]:
    try:
        return list(itertools.islice(rows, count))
    except (UnicodeDecodeError, csv.Error) as error:
        raise FatalError(
            f"cannot read the file: {error}; set `encoding` or fix the export"
        ) from None


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()


class FilesSource(Source):
    """A folder of exports; each stream picks its files by glob pattern."""

    config: FilesSourceConfig

    def __init__(
        self,
        name: str,
        config: FilesSourceConfig,
        *,
        code_tables: Mapping[str, Mapping[str, str]],
        env: Mapping[str, str],
    ) -> None:
        super().__init__(name, config)
        where = f"connectors.{name}.directory_env"
        self.directory = config.directory or Path(
            secret(env, config.directory_env or "", where=where)
        )
        for stream_name, stream_config in config.streams.items():
            stream = FilesStream(stream_name, stream_config, source=config, code_tables=code_tables)
            stream.directory = self.directory
            self.streams[stream_name] = stream

    async def open(self) -> None:
        if not self.directory.is_dir():
            raise FatalError(f"connector {self.name}: directory {self.directory} does not exist")
