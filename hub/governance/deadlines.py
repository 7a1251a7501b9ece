"""Per-level case deadlines (TOML) and the overdue rule derived from them and the clock.

A case stores the deadline of its current stage (`due_at`): accepting at the holding level
while it waits there, handling once accepted. Whether it is overdue is `is_overdue(due_at,
now)`, computed on every read, so a stored flag can never go stale.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from hub.governance.enums import CaseState
from hub.governance.states import AWAITING_ACCEPTANCE, IN_HANDLING
from hub.storage.base import utcnow
from hub.vocabulary import GridLevel

DEFAULT_DEADLINES = Path(__file__).with_name("deadlines.toml")


class DeadlinesError(ValueError):
    """The deadlines file is unreadable or incomplete; the message names the file and key."""


@dataclass(frozen=True, slots=True)
class LevelDeadlines:
    accept: timedelta
    handle: timedelta


@dataclass(frozen=True, slots=True)
class Deadlines:
    levels: dict[GridLevel, LevelDeadlines]
    reopen_window: timedelta

    def due_after(
        self,
        *,
        from_state: CaseState | None,
        to_state: CaseState,
        level: GridLevel,
        at: datetime,
        current_due: datetime | None,
    ) -> datetime | None:
        """The deadline in force once a case moves to `to_state` held at `level` at `at`.

        Waiting states get the level's acceptance deadline; handling starts the level's handling
        clock, which keeps running while the case stays in handling (more departments assigned);
        resolved, verified and closed cases have no deadline.
        """
        if to_state in AWAITING_ACCEPTANCE:
            return at + self.levels[level].accept
        if to_state in IN_HANDLING:
            if from_state in IN_HANDLING and current_due is not None:
                return current_due
            return at + self.levels[level].handle
        return None

    def reopen_closes_at(self, since: datetime) -> datetime:
        """When a case verified or closed at `since` can no longer be reopened."""
        return since + self.reopen_window


def is_overdue(due_at: datetime | None, now: datetime) -> bool:
    """A case is overdue when the deadline of its current stage has passed."""
    return due_at is not None and now > due_at


def load_deadlines(path: Path | None = None) -> Deadlines:
    """Read and check a deadlines file (the shipped one when `path` is None)."""
    source = path or DEFAULT_DEADLINES
    try:
        document = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise DeadlinesError(f"cannot read deadlines {source}: {error}") from error
    levels = {level: _level(source, document, level) for level in GridLevel}
    days = _positive(source, document.get("reopen", {}), "reopen.within_days")
    return Deadlines(levels=levels, reopen_window=timedelta(days=days))


@functools.cache
def default_deadlines() -> Deadlines:
    return load_deadlines()


def _level(source: Path, document: dict[str, object], level: GridLevel) -> LevelDeadlines:
    table = document.get("levels", {})
    entry = table.get(level.value) if isinstance(table, dict) else None
    if not isinstance(entry, dict):
        raise DeadlinesError(f"deadlines {source}: add a [levels.{level.value}] table")
    key = f"levels.{level.value}"
    return LevelDeadlines(
        accept=timedelta(hours=_positive(source, entry, f"{key}.accept_within_hours")),
        handle=timedelta(days=_positive(source, entry, f"{key}.handle_within_days")),
    )


def _positive(source: Path, table: object, key: str) -> float:
    value = table.get(key.rsplit(".", 1)[1]) if isinstance(table, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise DeadlinesError(f"deadlines {source}: {key} must be a positive number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Clock:
    """The moment of a call and the deadlines in force (tests pass their own)."""

    now: datetime = field(default_factory=utcnow)
    deadlines: Deadlines = field(default_factory=default_deadlines)
