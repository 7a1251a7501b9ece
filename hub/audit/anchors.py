"""Checkpoints as anchors: which to trust, and what a walked chain must agree with.

Trust: a checkpoint counts only if its signature verifies with a key the verifier holds —
the hub's keys on disk, a JWKS file given with `--jwks`, or (without `--jwks`) the keys
carried by the checkpoint file the auditor kept outside the hub. A key carried by a
database row or an export line is never trusted on its own word. A checkpoint signed by a
key nobody holds is set aside and said so (a note), not counted; one that a held key does
not verify is forged.

Agreement: for each trusted checkpoint (chain, seq, hash) the chain's event `seq` must be
present and carry `hash`. That one rule exposes a deleted chain, a truncated one (whether
or not its head was moved back) and one rebuilt with recomputed hashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.audit.checkpoints import (
    CheckpointClaims,
    CheckpointError,
    CheckpointLine,
    TrustedKeys,
    UnknownKeyError,
    import_public_key,
    verify_checkpoint,
)
from hub.audit.report import ChainReport, Problem
from hub.audit.walk import ChainWalk

Lines = Iterable[tuple[str, dict[str, Any]]]  # (where it was read, the JSON document)


@dataclass(frozen=True)
class Anchor:
    claims: CheckpointClaims
    origin: str  # "database", "checkpoints-2026-12-01.jsonl:12", "export.jsonl:40"

    def describe(self) -> str:
        return f"a checkpoint signed {self.claims.signed_at:%Y-%m-%d %H:%M:%S}Z ({self.origin})"


@dataclass
class Evidence:
    """The trusted checkpoints per chain, and what was wrong with the others."""

    anchors: dict[str, list[Anchor]] = field(default_factory=dict)
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    unverifiable: int = 0

    def add(self, lines: Lines, keys: TrustedKeys) -> None:
        for origin, document in lines:
            chain_id = str(document.get("chain_id", "?"))
            try:
                line = CheckpointLine.parse(document)
                claims = verify_checkpoint(line.jws, keys)
            except UnknownKeyError:
                self.unverifiable += 1
                continue
            except CheckpointError as error:
                self.problems.setdefault(chain_id, []).append(
                    Problem(
                        "checkpoint-forged", f"checkpoint at {origin} cannot be trusted: {error}"
                    )
                )
                continue
            self.anchors.setdefault(claims.chain_id, []).append(Anchor(claims, origin))

    def within(self, since: datetime | None, until: datetime | None) -> None:
        """Keep only checkpoints of events inside [since, until): the rest were not exported
        (or were archived)."""
        for chain_id, anchors in self.anchors.items():
            self.anchors[chain_id] = [
                a
                for a in anchors
                if (since is None or a.claims.at >= since)
                and (until is None or a.claims.at < until)
            ]

    def wanted(self, chain_id: str) -> set[int]:
        return {anchor.claims.seq for anchor in self.anchors.get(chain_id, [])}


def outside_keys(lines: Lines) -> TrustedKeys:
    """The public keys a checkpoint file carries (each must be the key its kid names)."""
    keys: TrustedKeys = {}
    for _, document in lines:
        jwk = document.get("jwk")
        if not isinstance(jwk, dict):
            continue
        try:
            key = import_public_key(jwk)
        except ValueError:
            continue
        if key.thumbprint() == jwk.get("kid"):
            keys[str(jwk["kid"])] = key
    return keys


def compare(report: ChainReport, walk: ChainWalk, anchors: list[Anchor], *, head_seq: int) -> None:
    """Add to `report` every way the walked events disagree with the trusted checkpoints."""
    matched: int | None = None
    for anchor in _distinct(anchors):
        seq = anchor.claims.seq
        if walk.broken and seq > walk.seq:
            break  # nothing to compare past the first broken link
        if walk.first_seq is None or seq > walk.seq:
            report.problems.append(_truncated(walk, anchor, head_seq=head_seq))
            break
        if seq < walk.first_seq:
            report.problems.append(
                Problem(
                    "deleted",
                    f"events before seq {walk.first_seq} are missing, but {anchor.describe()} "
                    f"vouches for seq {seq}: they were deleted (archived events: pass --from)",
                    walk.first_seq,
                )
            )
        elif walk.hashes.get(seq) != anchor.claims.hash:
            since = f" (it still matched at seq {matched})" if matched is not None else ""
            report.problems.append(
                Problem(
                    "rewritten",
                    f"event seq {seq} does not carry the hash {anchor.describe()} vouches for: "
                    f"the chain was rewritten at or before seq {seq} and every later hash "
                    f"recomputed{since}",
                    seq,
                )
            )
            break  # every later checkpoint disagrees for the same reason
        else:
            matched = seq
            report.checkpoints += 1
            report.last_checkpoint_seq = seq


def chain_deleted(chain_id: str, anchors: list[Anchor]) -> ChainReport:
    last = max(anchors, key=lambda anchor: anchor.claims.seq)
    problem = Problem(
        "chain-deleted",
        f"chain {chain_id} is missing, but {last.describe()} vouches for its "
        f"{last.claims.seq} events: the whole chain was deleted",
    )
    return ChainReport(chain_id, problems=[problem])


def _truncated(walk: ChainWalk, anchor: Anchor, *, head_seq: int) -> Problem:
    end = walk.seq if walk.first_seq is not None else 0
    last = anchor.claims.seq
    moved = " and the chain's head moved back to hide it" if head_seq < last else ""
    lost = f"event {last} was" if last == end + 1 else f"events {end + 1}–{last} were"
    return Problem(
        "truncated",
        f"the chain ends at seq {end}, but {anchor.describe()} vouches for "
        f"{last} events: {lost} removed{moved}",
        end + 1,
    )


def _distinct(anchors: list[Anchor]) -> Iterator[Anchor]:
    """One anchor per (seq, hash), in seq order, the database's first."""
    seen: set[tuple[int, str]] = set()
    for anchor in sorted(anchors, key=lambda a: (a.claims.seq, a.origin != "database")):
        key = (anchor.claims.seq, anchor.claims.hash)
        if key not in seen:
            seen.add(key)
            yield anchor
