"""Each chain's state for auditors, cheaply: its last checkpoint and what came after it.

`hub audit verify` walks every event; this reads, per chain, the last signed checkpoint
and the events from it to the head — at most one checkpoint interval (N events, or T
seconds' worth) — so `auditChainStatus` costs the same on the first day and after a year.
It checks that the checkpoint's signature verifies, that its event still carries the hash
it signed, that every later event links and hashes, and that the chain reaches its head.
A change before the last checkpoint that left that event's hash alone is for the full
walk to find.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.audit.anchors import Anchor, compare
from hub.audit.checkpoints import CheckpointClaims, CheckpointError, TrustedKeys, UnknownKeyError
from hub.audit.checkpoints import verify_checkpoint as verify_signature
from hub.audit.report import ChainReport, Problem
from hub.audit.walk import ChainWalk
from hub.storage.models import AuditChain, AuditCheckpoint, AuditEvent


@dataclass(frozen=True)
class LastCheckpoint:
    claims: CheckpointClaims
    kid: str
    jws: str
    signature_valid: bool | None  # None: signed with a key the hub no longer holds


@dataclass(frozen=True)
class ChainStatus:
    report: ChainReport
    host: str
    pid: int
    checked_from_seq: int
    last_checkpoint: LastCheckpoint | None


async def chain_statuses(connection: AsyncConnection, *, keys: TrustedKeys) -> list[ChainStatus]:
    chains = (
        await connection.execute(select(AuditChain.__table__).order_by(AuditChain.started_at))
    ).all()
    return [await _status(connection, chain, keys) for chain in chains]


async def _status(connection: AsyncConnection, chain: Any, keys: TrustedKeys) -> ChainStatus:
    report = ChainReport(chain.chain_id, events=chain.head_seq, head_seq=chain.head_seq)
    last = await _last_checkpoint(connection, chain.chain_id, keys, report)
    start = last.claims.seq if last is not None else 1
    walk = ChainWalk(wanted={start}, open_start=True)
    query = (
        select(AuditEvent.__table__)
        .where(AuditEvent.chain_id == chain.chain_id, AuditEvent.seq >= start)
        .order_by(AuditEvent.seq, AuditEvent.id)
    )
    for event in await connection.execute(query):
        problem = walk.check(event._mapping)
        if problem is not None:
            report.problems.append(problem)
            break
    if walk.first_seq is not None and walk.first_seq != start:
        report.problems.append(Problem("deleted", f"event seq {start} is missing", start))
    if (head := walk.finish(head_seq=chain.head_seq, head_hash=chain.head_hash)) is not None:
        report.problems.append(head)
    if last is not None and last.signature_valid:
        compare(report, walk, [Anchor(last.claims, "database")], head_seq=chain.head_seq)
    return ChainStatus(report, chain.host, chain.pid, start, last)


async def _last_checkpoint(
    connection: AsyncConnection, chain_id: str, keys: TrustedKeys, report: ChainReport
) -> LastCheckpoint | None:
    query = (
        select(AuditCheckpoint.__table__)
        .where(AuditCheckpoint.chain_id == chain_id)
        .order_by(AuditCheckpoint.seq.desc())
        .limit(1)
    )
    row = (await connection.execute(query)).first()
    if row is None:
        return None
    valid: bool | None = True
    try:
        claims = verify_signature(row.jws, keys)
        if (claims.chain_id, claims.seq) != (chain_id, row.seq):
            raise CheckpointError(f"it was signed for chain {claims.chain_id}, seq {claims.seq}")
    except UnknownKeyError:
        valid, claims = None, _claims_of(row)
    except CheckpointError as error:
        report.problems.append(Problem("checkpoint-forged", f"last checkpoint: {error}", row.seq))
        valid, claims = False, _claims_of(row)
    return LastCheckpoint(claims, row.kid, row.jws, valid)


def _claims_of(row: Any) -> CheckpointClaims:
    return CheckpointClaims(row.chain_id, row.seq, row.hash, row.head_at, row.signed_at, "")
