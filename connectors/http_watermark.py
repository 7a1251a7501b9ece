"""The incremental position of an `http` stream: a watermark that only accepted records move.

Cursor (JSON), chosen so a resume is exact even when many records share a timestamp:

    {"watermark": ISO | null, "seen": [ids accepted exactly at the watermark],
     "pending": {"since", "floor", "skip", "token", "walk", "high", "high_ids"} | null}

A run asks for records updated since `floor` (the watermark, or `lookback` before it; an
API comparing with `>` is asked `updated_since_overlap` earlier still) and drops what it
already holds: records older than `floor`, and the ids in `skip` at exactly `since`.

Two positions move during a run. The *walk* (`since`, `token`, `walk`: the newest time
read and its ids) says which page to ask for next, and moves over every record read.
The *watermark* (`high`, `high_ids`) moves only over records the hub accepted whose time
is not after the run's start: the sync layer says which through `Batch.settle`. So a
record dated in the far future, or quarantined for any reason, never becomes the
watermark; it is read again next run. When the last page is written, `high` becomes the
new watermark.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.base import Cursor
from connectors.http_paging import Token


@dataclass
class Watermark:
    """See the module docstring for the meaning of each field."""

    watermark: str | None = None
    seen: set[str] = field(default_factory=set)
    since: str | None = None
    floor: str | None = None
    skip: set[str] = field(default_factory=set)
    token: Token = None
    walk: str | None = None
    walk_ids: set[str] = field(default_factory=set)
    high: str | None = None
    high_ids: set[str] = field(default_factory=set)

    @classmethod
    def from_cursor(cls, cursor: Cursor | None, *, lookback: timedelta | None) -> Watermark:
        cursor = cursor or {}
        watermark, seen = cursor.get("watermark"), set(cursor.get("seen", []))
        pending = cursor.get("pending")
        if not pending:  # a new run
            floor = _shift(watermark, -lookback) if lookback else watermark
            return cls(
                watermark, seen, since=watermark, floor=floor, skip=set(seen),
                walk=watermark, walk_ids=set(seen), high=watermark, high_ids=set(seen),
            )  # fmt: skip
        since = pending["since"]
        walk = pending.get("walk") or [pending["high"], pending["high_ids"]]
        return cls(
            watermark, seen, since=since, floor=pending.get("floor", since),
            skip=set(pending.get("skip", seen)), token=pending["token"],
            walk=walk[0], walk_ids=set(walk[1]),
            high=pending["high"], high_ids=set(pending["high_ids"]),
        )  # fmt: skip

    def copy(self) -> Watermark:
        return dataclasses.replace(
            self, seen=set(self.seen), skip=set(self.skip),
            walk_ids=set(self.walk_ids), high_ids=set(self.high_ids),
        )  # fmt: skip

    def request_since(self, *, overlap: timedelta | None) -> str | None:
        """The `updated_since` to send: `floor`, earlier by `overlap` for an API comparing `>`."""
        return _shift(self.floor, -overlap) if overlap and self.floor else self.floor

    def held(self, key: str | None, updated: datetime | None) -> bool:
        """Read before: older than `floor`, or one of the ids already read at `since`."""
        if updated is None:
            return False  # unreadable times go to quarantine, never dropped here
        if self.floor is not None and updated < _time(self.floor):
            return True
        return self.since is not None and updated == _time(self.since) and key in self.skip

    def walked(self, key: str | None, updated: datetime | None) -> None:
        self.walk, self.walk_ids = _newest(self.walk, self.walk_ids, key, updated)

    def accept(self, key: str | None, updated: datetime | None) -> None:
        self.high, self.high_ids = _newest(self.high, self.high_ids, key, updated)

    def rewind(self) -> None:
        """Ask again from the newest time read, first page, once it has moved past `since`."""
        if self.walk is None or (self.since is not None and _time(self.walk) <= _time(self.since)):
            return  # a whole page at `since`: keep paging through it
        self.since = self.floor = self.walk
        self.skip, self.token = set(self.walk_ids), None

    def in_progress(self) -> Cursor:
        pending: dict[str, Any] = {
            "since": self.since, "floor": self.floor, "skip": sorted(self.skip),
            "token": self.token, "walk": [self.walk, sorted(self.walk_ids)],
            "high": self.high, "high_ids": sorted(self.high_ids),
        }  # fmt: skip
        return {"watermark": self.watermark, "seen": sorted(self.seen), "pending": pending}

    def finished(self) -> Cursor:
        return {"watermark": self.high, "seen": sorted(self.high_ids), "pending": None}


def _newest(
    current: str | None, ids: set[str], key: str | None, updated: datetime | None
) -> tuple[str | None, set[str]]:
    if key is None or updated is None:
        return current, ids
    newest = _time(current) if current else None
    if newest is None or updated > newest:
        return updated.isoformat(), {key}
    if updated == newest:
        return current, ids | {key}
    return current, ids


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _shift(text: str | None, delta: timedelta) -> str | None:
    return None if text is None else (_time(text) + delta).isoformat()
