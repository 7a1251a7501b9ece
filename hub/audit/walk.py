"""Walking one chain: the links between events, and the access index derived from them.

Per chain, events must run 1, 2, 3 … without gaps or repeats, each must name its
predecessor's hash, and each must hash to its stored hash; the last must be the chain's
recorded head. A walk that may start late (an archived or windowed chain) takes its first
event's predecessor on trust; the checkpoints after it vouch for it instead.

The walk remembers the hashes at the sequence numbers it is asked for (`wanted`), so the
checkpoints can be compared with what the events say (hub/audit/anchors.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from hub.audit.records import GENESIS_HASH, event_hash
from hub.audit.report import Problem


class ChainWalk:
    def __init__(
        self, *, wanted: set[int] | frozenset[int] = frozenset(), open_start: bool = False
    ):
        self.wanted = wanted
        self.open_start = open_start
        self.seq = 0
        self.head = GENESIS_HASH
        self.count = 0
        self.first_seq: int | None = None
        self.hashes: dict[int, str] = {}
        self.broken = False

    def check(self, event: Mapping[Any, Any]) -> Problem | None:
        """None if `event` continues the chain; else the problem (and the walk stops)."""
        seq: int = event["seq"]
        if self.first_seq is None:
            self.first_seq = seq
            if self.open_start and seq > 1:
                self.seq, self.head = seq - 1, event["prev_hash"]
        self.count += 1
        problem = self._problem(event, seq)
        if problem is not None:
            self.broken = True
            return problem
        self.seq, self.head = seq, event["hash"]
        if seq in self.wanted:
            self.hashes[seq] = event["hash"]
        return None

    def _problem(self, event: Mapping[Any, Any], seq: int) -> Problem | None:
        event_id = event.get("id")
        if seq > self.seq + 1:
            gap = f"{self.seq + 1}" if seq == self.seq + 2 else f"{self.seq + 1}–{seq - 1}"
            return Problem(
                "deleted",
                f"sequence jumps from {self.seq} to {seq}: event {gap} missing (deleted)",
                seq,
                event_id,
            )
        if seq <= self.seq:
            return Problem(
                "inserted",
                f"sequence goes from {self.seq} to {seq}: an event is repeated or out of order",
                seq,
                event_id,
            )
        if event["prev_hash"] != self.head:
            return Problem(
                "unlinked",
                "does not follow its predecessor: an event was removed, inserted, swapped, "
                "or edited and re-hashed",
                seq,
                event_id,
            )
        if event_hash(event) != event["hash"]:
            return Problem(
                "modified",
                "its content does not match its hash: the event was modified",
                seq,
                event_id,
            )
        return None

    def finish(self, *, head_seq: int, head_hash: str) -> Problem | None:
        """Compare the end of the walk with the chain's recorded head."""
        if self.broken or (self.seq, self.head) == (head_seq, head_hash):
            return None
        return Problem(
            "truncated",
            f"chain ends at seq {self.seq} but its head says {head_seq}: "
            "events were removed from the end or added after it",
        )


class IndexCheck:
    """Compares the resident access index with the events, both streamed in seq order.

    `rows` yields (seq, resident_id) ordered by seq then resident; `event(seq, ids)` is
    called for every event in order; `finish()` reports rows left over.
    """

    def __init__(self, rows: AsyncIterator[tuple[int, str]]) -> None:
        self._rows = rows
        self._next: tuple[int, str] | None = None
        self.problems: list[Problem] = []

    async def event(self, seq: int, resident_ids: list[str], event_id: int | None) -> None:
        indexed: set[str] = set()
        while (row := await self._peek()) is not None and row[0] <= seq:
            self._next = None
            if row[0] < seq:
                self._extra(row)
            else:
                indexed.add(row[1])
        for resident_id in sorted(set(resident_ids) - indexed):
            self.problems.append(
                Problem(
                    "index-missing",
                    f"event seq {seq} returned resident {resident_id}, but the access index has "
                    f"no row for it: {resident_id}'s access report would omit this access "
                    "(index rows deleted)",
                    seq,
                    event_id,
                )
            )
        for resident_id in sorted(indexed - set(resident_ids)):
            self._extra((seq, resident_id))

    async def finish(self) -> None:
        while (row := await self._peek()) is not None:
            self._next = None
            self._extra(row)

    def _extra(self, row: tuple[int, str]) -> None:
        self.problems.append(
            Problem(
                "index-extra",
                f"the access index says event seq {row[0]} returned resident {row[1]}, which "
                "no event records (index rows added or changed)",
                row[0],
            )
        )

    async def _peek(self) -> tuple[int, str] | None:
        if self._next is None:
            try:
                self._next = await anext(self._rows)
            except StopAsyncIteration:
                return None
        return self._next
