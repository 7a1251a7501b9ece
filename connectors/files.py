"""`files` sources: CSV and XLSX exports dropped in a folder, each processed once per content.

Cursor: `{"done": {relative name: sha256}, "current": {"file", "sha256", "row"} | null}`.
A file whose SHA-256 is in `done` is skipped; a changed file (new hash) is read again.
`current.row` counts the data rows of the file already written, so a crash mid-file resumes
at the next row. Files are streamed row by row (connectors/csv_rows.py over a decoded text
stream, connectors/xlsx_rows.py over openpyxl's read-only parser), so memory stays flat
however large the export. Exports should be written elsewhere and moved into the folder,
so a half-written file is never read.

Each record maps header → cell, plus `_file` (relative name), `_row` (1-based sheet row),
`_file_mtime` (ISO UTC), which a mapping may use (e.g. as `source_updated_at`), and for CSV
`_line` (the physical line it starts on). A row that cannot be decoded or parsed is
yielded as an unreadable record with the same keys, and the file goes on; a file that
cannot be read at all (no readable workbook, a header naming a column twice, an encoding
that cannot be told) fails the run naming the file, until the file is replaced.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.base import Batch, Cursor, RawRecord, Source, Stream
from connectors.config import FilesSourceConfig
from connectors.config import FilesStream as FilesStreamConfig
from connectors.csv_rows import HEAD_SAMPLE, csv_rows, detect_encoding
from connectors.errors import FatalError
from connectors.secrets import secret
from connectors.tabular import Rows
from connectors.xlsx_rows import xlsx_rows

DETECTION_PREFIX = HEAD_SAMPLE
__all__ = ["DETECTION_PREFIX", "FilesSource", "FilesStream", "detect_encoding", "read_rows"]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    return list(itertools.islice(rows, count))


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
