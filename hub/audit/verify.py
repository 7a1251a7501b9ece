"""Verifies the audit trail in the database: every chain, its checkpoints, its access index.

For each chain in `audit_chains`: the walk (hub/audit/walk.py) checks every link and the
recorded head; every trusted checkpoint — the database's own, and those of a checkpoint
file kept outside (`hub audit verify --checkpoints FILE`) — must agree with the events
(hub/audit/anchors.py); and the resident access index must list exactly the residents the
events record. A checkpoint naming a chain the database lacks reports that chain deleted;
one in the outside file but not in the database reports the checkpoint deleted.

`since` says events older than it were archived (README, "Audit trail"): chains may then
start after seq 1, and checkpoints of older events are not compared.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Row, Text, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.anchors import Evidence, Lines, chain_deleted, compare
from hub.audit.checkpoints import TrustedKeys
from hub.audit.report import ChainReport, Problem, TrailReport
from hub.audit.walk import ChainWalk, IndexCheck
from hub.storage.models import AuditChain, AuditCheckpoint, AuditEvent, AuditResidentAccess

__all__ = ["ChainReport", "TrailReport", "verify_all", "verify_trail"]
PARTITION = 2000  # rows fetched per round trip to the driver


async def verify_trail(
    engine: AsyncEngine,
    *,
    keys: TrustedKeys,
    outside: Lines = (),
    since: datetime | None = None,
) -> TrailReport:
    stored = await _stored_checkpoints(engine)
    evidence = Evidence()
    evidence.add(stored, keys)
    outside_evidence = Evidence()
    outside_evidence.add(outside, keys)
    report = TrailReport()
    for chain_id, anchors in outside_evidence.anchors.items():
        evidence.anchors.setdefault(chain_id, []).extend(anchors)
    for chain_id, problems in (*evidence.problems.items(), *outside_evidence.problems.items()):
        report.chain(chain_id).problems.extend(problems)
    evidence.within(since, None)
    chains = await _chains(engine)
    for chain in chains:
        chain_report = report.chain(chain.chain_id)
        await _verify_chain(engine, chain, evidence, chain_report, open_start=since is not None)
    known = {chain.chain_id for chain in chains}
    for chain_id, anchors in evidence.anchors.items():
        if chain_id not in known and anchors:
            deleted = chain_deleted(chain_id, anchors)
            report.chain(chain_id).problems[:0] = deleted.problems
    _missing_from_database(report, stored, outside_evidence)
    unverifiable = evidence.unverifiable + outside_evidence.unverifiable
    if unverifiable:
        report.notes.append(
            f"{unverifiable} checkpoint(s) signed with keys this verifier does not hold were "
            "not used (pass --jwks with the hub's key set, or the checkpoint file)"
        )
    return report


async def verify_all(engine: AsyncEngine) -> list[ChainReport]:
    """The links, heads and access index of every chain (no checkpoint keys: those are
    compared by `verify_trail` with keys)."""
    return (await verify_trail(engine, keys={})).chains


async def _verify_chain(
    engine: AsyncEngine, chain: Any, evidence: Evidence, report: ChainReport, *, open_start: bool
) -> None:
    walk = ChainWalk(wanted=evidence.wanted(chain.chain_id), open_start=open_start)
    report.head_seq = chain.head_seq
    async with (
        contextlib.aclosing(_events(engine, chain.chain_id)) as events,
        contextlib.aclosing(_index_rows(engine, chain.chain_id)) as rows,
    ):
        index = IndexCheck(rows)
        async for event in events:
            problem = walk.check(event)
            if problem is not None:
                report.problems.append(problem)
                break
            await index.event(event["seq"], event["resident_ids"], event["id"])
        else:
            await index.finish()
    report.events, report.first_seq = walk.count, walk.first_seq
    archived = open_start and walk.first_seq is None  # every event older than `since`
    head = walk.finish(head_seq=chain.head_seq, head_hash=chain.head_hash)
    if head is not None and not archived:
        report.problems.append(head)
    compare(report, walk, evidence.anchors.get(chain.chain_id, []), head_seq=chain.head_seq)
    report.problems.extend(index.problems)


def _missing_from_database(report: TrailReport, stored: Lines, outside: Evidence) -> None:
    in_database = {(str(document["chain_id"]), int(document["seq"])) for _, document in stored}
    for chain_id, anchors in outside.anchors.items():
        missing = sorted(
            {a.claims.seq for a in anchors} - {s for c, s in in_database if c == chain_id}
        )
        if missing:
            seqs = ", ".join(map(str, missing[:5])) + (" …" if len(missing) > 5 else "")
            report.chain(chain_id).problems.append(
                Problem(
                    "checkpoint-deleted",
                    f"{len(missing)} checkpoint(s) kept outside (seq {seqs}) are missing from "
                    "the database's audit_checkpoints: rows were deleted",
                    missing[0],
                )
            )


async def _chains(engine: AsyncEngine) -> Sequence[Row[Any]]:
    async with engine.connect() as connection:
        query = select(AuditChain.__table__).order_by(AuditChain.started_at)
        return (await connection.execute(query)).all()


async def _stored_checkpoints(engine: AsyncEngine) -> list[tuple[str, dict[str, Any]]]:
    query = select(AuditCheckpoint.chain_id, AuditCheckpoint.seq, AuditCheckpoint.jws)
    async with engine.connect() as connection:
        rows = (await connection.execute(query.order_by(AuditCheckpoint.id))).all()
    return [("database", dict(row._mapping)) for row in rows]


# JSON columns are read as text and decoded with orjson: the stdlib decoder SQLAlchemy uses
# was a third of the walk's time on SQLite.
_JSON_COLUMNS = [c.name for c in AuditEvent.__table__.columns if isinstance(c.type, JSON)]
_READ = [
    type_coerce(c, Text).label(c.name) if c.name in _JSON_COLUMNS else c
    for c in AuditEvent.__table__.columns
]


async def _events(engine: AsyncEngine, chain_id: str) -> AsyncGenerator[dict[str, Any], None]:
    query = select(*_READ).where(AuditEvent.chain_id == chain_id)
    async with engine.connect() as connection:
        result = await connection.stream(query.order_by(AuditEvent.seq, AuditEvent.id))
        async for rows in result.partitions(PARTITION):
            for row in rows:
                event = dict(row._mapping)
                for name in _JSON_COLUMNS:
                    if isinstance(event[name], str):  # asyncpg hands JSON over decoded
                        event[name] = orjson.loads(event[name])
                yield event


async def _index_rows(engine: AsyncEngine, chain_id: str) -> AsyncGenerator[tuple[int, str], None]:
    query = (
        select(AuditResidentAccess.seq, AuditResidentAccess.resident_id)
        .where(AuditResidentAccess.chain_id == chain_id)
        .order_by(AuditResidentAccess.seq, AuditResidentAccess.resident_id)
    )
    async with engine.connect() as connection:
        result = await connection.stream(query)
        async for rows in result.partitions(PARTITION):
            for seq, resident_id in rows:
                yield seq, resident_id
