"""What every connector kind provides: a Source holding Streams that read raw records in Batches.

Modelled on singer-sdk: a stream is a few attributes plus one `read(cursor)`; it yields
batches, each carrying the cursor that is valid once that batch is written. Connectors
only read: `hub/sync/` maps, writes and commits each batch with its cursor.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from connectors.config import SourceBase, StreamBase
from connectors.mapping import RecordMapping, parse_timezone

RawRecord = dict[str, Any]  # JSON-compatible: it is stored as-is in quarantine
Cursor = dict[str, Any]  # JSON-compatible stream state


@dataclass(frozen=True)
class Batch:
    """Raw records plus the stream cursor to store once they are written (in the same transaction)."""

    records: list[RawRecord]
    cursor: Cursor


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
