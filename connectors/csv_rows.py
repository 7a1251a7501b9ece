"""CSV exports: the encoding detected (or the stream's own), then rows that cannot poison the file.

Detection (`detect_encoding`), on whole lines of the file's first and last 64 KiB:
a byte-order mark decides (UTF-8, UTF-16, UTF-32); else text that is valid UTF-8 is read as
UTF-8; else text that is valid GB18030 (a superset of GBK and GB2312, what Chinese
department systems export) as GB18030; else charset-normalizer's best guess. Strict
decoding decides, not a statistical guess: a short GB18030 export is never read as
another code page. A stream's `encoding` always wins.

Rows: the file is decoded with `surrogateescape`, so a byte that is not valid in the
encoding never stops the reader; the row holding it becomes an unreadable record naming
its line. A physical line longer than `max_row_size` characters is skipped in pieces
(memory stays bounded) and its row is unreadable; a row the csv module refuses (a field
over the same limit) is unreadable; the rows after it are read as usual.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import charset_normalizer

from connectors.base import unreadable
from connectors.config import FilesStream as FilesStreamConfig
from connectors.errors import FatalError
from connectors.tabular import Rows, clipped, header_names, row_record

HEAD_SAMPLE = 64 << 10
TAIL_SAMPLE = 64 << 10
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)  # fmt: skip
_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes surrogateescape could not decode


def detect_encoding(path: Path) -> str:
    """The file's encoding, decided by strict decoding of whole lines (see the module docstring)."""
    with path.open("rb") as stream:
        head = stream.read(HEAD_SAMPLE)
        size = stream.seek(0, 2)
        tail = b""
        if size > HEAD_SAMPLE:
            stream.seek(max(HEAD_SAMPLE, size - TAIL_SAMPLE))
            tail = stream.read()
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    samples = [_whole_lines(head, at_start=True, complete=size <= HEAD_SAMPLE)]
    if tail:
        samples.append(_whole_lines(tail, at_start=False, complete=True))
    for encoding in ("utf-8", "gb18030"):
        if all(_decodes(sample, encoding) for sample in samples):
            return "utf-8-sig" if encoding == "utf-8" else encoding
    best = charset_normalizer.from_bytes(b"".join(samples)).best()
    if best is None:
        raise FatalError(f"{path.name}: cannot tell its encoding; set `encoding` on the stream")
    return codecs.lookup(best.encoding).name


def _whole_lines(sample: bytes, *, at_start: bool, complete: bool) -> bytes:
    """Cut at newlines, so no multibyte character is split (a newline byte is never inside one
    in UTF-8, GBK or GB18030)."""
    if not at_start:
        sample = sample[sample.find(b"\n") + 1 :]
    if not complete:
        end = sample.rfind(b"\n")
        sample = sample[: end + 1] if end > 0 else sample
    return sample


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        sample.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


class BoundedLines:
    """Physical lines of a text stream, none longer than `limit` characters held at once.

    An over-long line is read and dropped in pieces; it is given to the csv reader as an
    empty line, and its number is remembered in `overlong`.
    """

    def __init__(self, stream: TextIO, limit: int) -> None:
        self.stream, self.limit = stream, limit
        self.number = 0
        self.overlong: dict[int, int] = {}  # line number → its length

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.stream.readline(self.limit + 1)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) <= self.limit or line.endswith(("\n", "\r")):
            return line
        length = len(line)
        while line and not line.endswith(("\n", "\r")):
            line = self.stream.readline(self.limit)
            length += len(line)
        self.overlong[self.number] = length
        return "\n"


def csv_rows(path: Path, config: FilesStreamConfig, skip: int) -> Rows:
    """Data rows after the first `skip`, each with `_line` (where it starts in the file)."""
    encoding = config.encoding or detect_encoding(path)
    csv.field_size_limit(config.max_row_size)  # the module's global; one limit for every stream
    with path.open(encoding=encoding, errors="surrogateescape", newline="") as stream:
        lines = BoundedLines(stream, config.max_row_size)
        reader = csv.reader(lines, delimiter=config.delimiter)
        for _ in range(config.header_row - 1):
            next(reader, None)  # title lines above the header row
        headers = header_names(path, next(reader, []))
        passed = 0
        while True:
            start = lines.number + 1
            problem: str | None
            try:
                values = next(reader, None)
            except csv.Error as error:
                values, problem = [], f"line {start}: {error}"
            else:
                if values is None:
                    return
                problem = _problem(lines, start, values, encoding, config.max_row_size)
            passed += 1
            if passed <= skip:
                continue
            if problem:
                yield unreadable(problem, _line=start, _text=_visible(values, encoding, config))
            else:
                yield row_record(headers, values, _line=start)


def _problem(
    lines: BoundedLines, start: int, values: list[str], encoding: str, limit: int
) -> str | None:
    long = [n for n in range(start, lines.number + 1) if n in lines.overlong]
    if long:
        return f"line {long[0]} is {lines.overlong[long[0]]:,} characters long (max_row_size {limit:,})"
    if any(_ESCAPED.search(value) for value in values):
        return f"line {start} holds bytes that are not valid {encoding}; fix the export or set `encoding`"
    return None


def _visible(values: list[str], encoding: str, config: FilesStreamConfig) -> str:
    """The row as text, undecodable bytes shown as U+FFFD, clipped for the quarantine payload."""
    text = config.delimiter.join(values)
    try:
        text = text.encode(encoding, "surrogateescape").decode(encoding, "replace")
    except (UnicodeError, LookupError):
        text = _ESCAPED.sub("\ufffd", text)
    return clipped(text.lstrip("\ufeff"))
