"""What every connector kind provides: a Source holding Streams that read raw records in Batches.

Modelled on singer-sdk: a stream is a few attributes plus one `read(cursor)`; it yields
batches, each carrying the cursor that is valid once that batch is written. Connectors
only read: `hub/sync/` maps, writes and commits each batch with its cursor.

A record that cannot even be read (undecodable bytes, a broken CSV row, a page item that
is not an object) is still yielded, as an *unreadable record* (`unreadable(...)`), so the
pipeline quarantines it with where it was and the read goes on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from connectors.config import SourceBase, StreamBase
from connectors.mapping import RecordMapping, parse_timezone

RawRecord = dict[str, Any]  # JSON-compatible: it is stored as-is in quarantine
Cursor = dict[str, Any]  # JSON-compatible stream state
Settle = Callable[[Sequence[bool]], Cursor]

UNREADABLE_KEY = "_unreadable"  # set (to the problem) on records that could not be read


def unreadable(problem: str, **where: Any) -> RawRecord:
    """A record standing for something that could not be read; `where` says where (file, line…)."""
    return {UNREADABLE_KEY: problem, **where}


@dataclass(frozen=True)
class Batch:
    """Raw records plus the stream cursor to store once they are written (in the same transaction).

    `cursor` is right when every record may move the stream's position. A stream that keeps
    a watermark also gives `settle`: told which records may move it (one flag per record:
    accepted, and not newer than the run's start), it returns the cursor to store instead,
    so a quarantined or future-dated record never moves a watermark. The runner settles a
    batch before it asks for the next; a batch never settled counts as all accepted.
    """

    records: list[RawRecord]
    cursor: Cursor
    settle: Settle | None = field(default=None, compare=False, repr=False)

    def cursor_after(self, movers: Sequence[bool]) -> Cursor:
        """The cursor to store when only the records flagged in `movers` may move it."""
        return self.cursor if self.settle is None else self.settle(movers)


ConfigT = TypeVar("ConfigT", bound=StreamBase)


class Stream(ABC, Generic[ConfigT]):
    """One kind of record from one source, mapped onto one target type."""

    def __init__(
        self,
        name: str,
        config: ConfigT,
        *,
        source: SourceBase,
        code_tables: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.name = name
        self.config = config
        self.zone = parse_timezone(source.timezone)
        self.mapping = RecordMapping(config, code_tables=code_tables, zone=self.zone)

    @property
    def creates_residents(self) -> bool:
        return self.config.creates_residents

    @abstractmethod
    def read(self, cursor: Cursor | None) -> AsyncIterator[Batch]:
        """Yield batches after `cursor` (None: from the beginning), each with its new cursor."""


class Source:
    """A configured connector: its provenance name and streams; an async context for its clients."""

    def __init__(self, name: str, config: SourceBase) -> None:
        self.name = name
        self.config = config
        self.source = config.source or name
        self.streams: dict[str, Stream[Any]] = {}

    async def open(self) -> None:
        """Acquire clients and connections; called before the first read."""

    async def close(self) -> None:
        """Release what `open` acquired; must be safe to call after a failed open."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
