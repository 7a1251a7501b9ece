"""What a sync reports: per-run counts, a batch's outcome, a stream run's summary, and progress."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.quarantine import Rejected
from hub.storage.models import QuarantineReason, RunStatus

_COUNTS = ("read", "inserted", "updated", "unchanged", "quarantined")


@dataclass
class Counts:
    """Per-run tallies; `read` always equals the sum of the other four.

    `reasons` splits `quarantined` by QuarantineReason; `unmatched` (records whose person
    the police register does not hold yet) is the part that needs no fix in the source.
    """

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def unmatched(self) -> int:
        return self.reasons[QuarantineReason.UNMATCHED_RESIDENT.value]

    def add(self, other: Counts) -> None:
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)

    def as_dict(self) -> dict[str, int]:
        """The five tallies (the columns of connector_runs)."""
        return {name: getattr(self, name) for name in _COUNTS}


@dataclass
class BatchResult:
    """One batch through the pipeline: its counts, what was refused, and which records may
    move the stream's cursor (accepted, and not updated after the run began)."""

    counts: Counts
    rejected: list[Rejected]
    movers: list[bool]
    outcomes: list[str]  # per record: inserted, updated, unchanged or its quarantine reason


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
            "unmatched": self.counts.unmatched, "reasons": dict(self.counts.reasons),
        }  # fmt: skip


ProgressCallback = Callable[[str, str, Counts], None]
