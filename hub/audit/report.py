"""What `hub audit verify` finds: per chain, the problems named by kind, and what was checked.

Kinds of problem, and what each means::

    modified            an event's content no longer matches its hash
    deleted             the sequence skips numbers: events were removed
    inserted            the sequence repeats or runs backwards: an event was added or moved
    unlinked            an event does not name its predecessor's hash (removed, inserted,
                        swapped, or edited and re-hashed)
    truncated           events are missing at the end (the head, or a checkpoint, says more)
    rewritten           an event no longer has the hash a signed checkpoint vouches for:
                        the chain was rebuilt with every later hash recomputed
    chain-deleted       a signed checkpoint names a chain the database no longer has
    checkpoint-forged   a checkpoint whose signature does not verify
    checkpoint-deleted  a checkpoint kept outside is missing from the database
    index-missing       an event returned a resident the access index does not list
    index-extra         the access index lists an access no event records
    unreadable          a line of an export or checkpoint file that is not what it claims
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str
    seq: int | None = None
    event_id: int | None = None


@dataclass
class ChainReport:
    """One chain's verification; `problems` in the order found (the walk's first)."""

    chain_id: str
    events: int = 0
    head_seq: int = 0
    first_seq: int | None = None  # the first event present (1 unless archived or windowed)
    problems: list[Problem] = field(default_factory=list)
    checkpoints: int = 0  # signed checkpoints the events were compared with
    last_checkpoint_seq: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problem(self) -> str | None:
        return self.problems[0].message if self.problems else None

    @property
    def seq(self) -> int | None:
        return self.problems[0].seq if self.problems else None

    @property
    def event_id(self) -> int | None:
        return self.problems[0].event_id if self.problems else None

    def document(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "events": self.events,
            "head_seq": self.head_seq,
            "first_seq": self.first_seq,
            "checkpoints": self.checkpoints,
            "last_checkpoint_seq": self.last_checkpoint_seq,
            "ok": self.ok,
            "problems": [problem.__dict__ for problem in self.problems],
        }


@dataclass
class TrailReport:
    chains: list[ChainReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be checked, and why

    @property
    def ok(self) -> bool:
        return all(chain.ok for chain in self.chains)

    def chain(self, chain_id: str) -> ChainReport:
        found = next((chain for chain in self.chains if chain.chain_id == chain_id), None)
        if found is None:
            found = ChainReport(chain_id)
            self.chains.append(found)
        return found
