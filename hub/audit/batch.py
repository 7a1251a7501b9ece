"""The statements that commit one batch of chained events, as few as each database allows.

A batch writes its events, one access-index row per (event, resident returned) and the
chain's new head. On PostgreSQL that is one statement: the events and the index rows are
inserted by data-modifying CTEs of the head's UPDATE, and the index rows come from
`unnest` over three array parameters (four parameters however many residents a page
returned). A single statement is atomic on its own, so the sink runs it without
BEGIN/COMMIT (hub/audit/sinks.py). Elsewhere (SQLite) the three statements run in one
transaction, the index rows as one executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, DateTime, String, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from hub.audit.sinks import Statement
from hub.storage.models import AuditChain, AuditEvent, AuditResidentAccess

ACCESS_COLUMNS = ("chain_id", "seq", "resident_id", "at")
# asyncpg binds at most 32,767 parameters per statement; the events' multi-row VALUES takes
# one per column and event (~30 each: ~1,000 events). A larger batch takes three statements.
MAX_PARAMETERS = 30_000


def access_rows(chain_id: str, events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One index row per resident an event returned."""
    return [
        {"chain_id": chain_id, "seq": e["seq"], "resident_id": r, "at": e["at"]}
        for e in events
        for r in e["resident_ids"]
    ]


def batch_statements(
    dialect: str, chain_id: str, events: list[dict[str, Any]], *, seq: int, head: str
) -> list[Statement]:
    """The statements that write `events` and move the chain's head to (`seq`, `head`)."""
    chain = (
        update(AuditChain)
        .where(AuditChain.chain_id == chain_id)
        .values(head_seq=seq, head_hash=head)
    )
    if dialect == "postgresql" and len(events) * len(events[0]) <= MAX_PARAMETERS:
        return [(_postgresql_batch(chain, chain_id, events), None)]
    statements: list[Statement] = [(insert(AuditEvent), events)]
    access = access_rows(chain_id, events)
    if access:
        statements.append((insert(AuditResidentAccess), access))
    statements.append((chain, None))
    return statements


def _postgresql_batch(chain: Any, chain_id: str, events: list[dict[str, Any]]) -> Any:
    statement = chain.add_cte(insert(AuditEvent).values(events).cte("written_events"))
    seqs = [e["seq"] for e in events for _ in e["resident_ids"]]
    if not seqs:
        return statement
    residents = [r for e in events for r in e["resident_ids"]]
    ats = [e["at"] for e in events for _ in e["resident_ids"]]
    rows = select(
        bindparam("access_chain_id", chain_id, type_=String()),
        func.unnest(bindparam("access_seqs", seqs, type_=ARRAY(BigInteger()))),
        func.unnest(bindparam("access_residents", residents, type_=ARRAY(String()))),
        func.unnest(bindparam("access_ats", ats, type_=ARRAY(DateTime(timezone=True)))),
    )
    access = insert(AuditResidentAccess).from_select(ACCESS_COLUMNS, rows)
    return statement.add_cte(access.cte("written_access"))
