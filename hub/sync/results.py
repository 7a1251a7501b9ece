"""What a sync reports: per-run counts, a stream run's summary, and the progress callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.storage.models import RunStatus


@dataclass
class Counts:
    """Per-run tallies; `read` always equals the sum of the other four."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0

    def add(self, other: Counts) -> None:
        for name in ("read", "inserted", "updated", "unchanged", "quarantined"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read, "inserted": self.inserted, "updated": self.updated,
            "unchanged": self.unchanged, "quarantined": self.quarantined,
        }  # fmt: skip


@dataclass(frozen=True)
class RunSummary:
    connector: str
    stream: str
    status: RunStatus
    counts: Counts
    error: str | None = None
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector, "stream": self.stream, "status": self.status.value,
            "error": self.error, "run_id": self.run_id, **self.counts.as_dict(),
        }  # fmt: skip


ProgressCallback = Callable[[str, str, Counts], None]
