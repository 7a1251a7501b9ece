"""Verifies an export file on its own, offline: no database, only the file and the keys.

The same checks as the database's (hub/audit/verify.py), minus the access index: every
chain's events link and hash, and every trusted checkpoint — those interleaved in the
export and those of a checkpoint file kept elsewhere — agrees with them. A chain the
checkpoints know but the export lacks was left out (or deleted); a checkpoint beyond a
chain's last exported event shows the export (or the trail) was cut short.

An export made with `--from`/`--to` is verified with the same window: checkpoints of
events outside it are not compared, and its chains may start after seq 1.

Two passes over the file: the first gathers the checkpoints, the second walks the events
knowing which hashes to keep; memory stays flat whatever the file's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from hub.audit.anchors import Evidence, Lines, chain_deleted, compare
from hub.audit.checkpoints import TrustedKeys
from hub.audit.records import HASHED_COLUMNS
from hub.audit.report import ChainReport, Problem, TrailReport
from hub.audit.walk import ChainWalk

EVENT_KEYS = frozenset({*HASHED_COLUMNS, "hash"})


def verify_export(
    path: Path,
    *,
    keys: TrustedKeys,
    outside: Lines = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> TrailReport:
    report = TrailReport()
    evidence = Evidence()
    evidence.add(((where, doc) for where, doc in _lines(path, report) if _is_checkpoint(doc)), keys)
    evidence.add(outside, keys)
    for chain_id, problems in evidence.problems.items():
        report.chain(chain_id).problems.extend(problems)
    evidence.within(since, until)
    walks = _walk(path, evidence, report, open_start=since is not None)
    for chain_id, walk in walks.items():
        chain = report.chain(chain_id)
        chain.events, chain.first_seq, chain.head_seq = walk.count, walk.first_seq, walk.seq
        compare(chain, walk, evidence.anchors.get(chain_id, []), head_seq=walk.seq)
    for chain_id, anchors in evidence.anchors.items():
        if chain_id not in walks and anchors:
            report.chain(chain_id).problems[:0] = chain_deleted(chain_id, anchors).problems
    if evidence.unverifiable:
        report.notes.append(
            f"{evidence.unverifiable} checkpoint(s) signed with keys this verifier does not "
            "hold were not used (pass --jwks with the hub's key set, or the checkpoint file)"
        )
    return report


def _walk(
    path: Path, evidence: Evidence, report: TrailReport, *, open_start: bool
) -> dict[str, ChainWalk]:
    walks: dict[str, ChainWalk] = {}
    for where, document in _lines(path, None):
        if _is_checkpoint(document):
            continue
        chain_id = str(document.get("chain_id", "?"))
        walk = walks.get(chain_id)
        if walk is None:
            walk = walks[chain_id] = ChainWalk(
                wanted=evidence.wanted(chain_id), open_start=open_start
            )
        if walk.broken:
            continue
        event = _event(document)
        if event is None:
            walk.broken = True
            report.chain(chain_id).problems.append(
                Problem("unreadable", f"{where} is neither an audit event nor a checkpoint")
            )
            continue
        problem = walk.check(event)
        if problem is not None:
            report.chain(chain_id).problems.append(problem)
    return walks


def _event(document: dict[str, Any]) -> dict[str, Any] | None:
    if not EVENT_KEYS.issubset(document):
        return None
    try:
        return {**document, "at": datetime.fromisoformat(document["at"])}
    except (TypeError, ValueError):
        return None


def _is_checkpoint(document: dict[str, Any]) -> bool:
    return document.get("type") == "checkpoint"


def _lines(path: Path, report: TrailReport | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, document) per line; lines that are not JSON objects go to `report`."""
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                document = orjson.loads(raw)
            except orjson.JSONDecodeError:
                document = None
            where = f"{path.name}:{number}"
            if isinstance(document, dict):
                yield where, document
            elif report is not None:
                report.chain("(export)").problems.append(
                    Problem("unreadable", f"{where} is not a JSON object")
                )


__all__ = ["ChainReport", "verify_export"]
