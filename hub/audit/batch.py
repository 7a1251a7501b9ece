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

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    String,
    bindparam,
    func,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from hub.audit.sinks import Statement
from hub.storage import direct
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
    if dialect == "postgresql" and len(events) * len(events[0]) <= MAX_PARAMETERS:
        statement, parameters = _postgresql_batch(chain_id, events, seq=seq, head=head)
        return [(statement, [parameters])]
    chain = (
        update(AuditChain)
        .where(AuditChain.chain_id == chain_id)
        .values(head_seq=seq, head_hash=head)
    )
    statements: list[Statement] = [(insert(AuditEvent), events)]
    access = access_rows(chain_id, events)
    if access:
        statements.append((insert(AuditResidentAccess), access))
    statements.append((chain, None))
    return statements


def _postgresql_batch(chain_id: str, events: list[dict[str, Any]], *, seq: int, head: str) -> Any:
    """The batch's statement (one per shape, compiled once) and its parameters."""
    access = any(e["resident_ids"] for e in events)
    columns = tuple(events[0])
    statement = _postgresql_statement(len(events), columns, access)
    parameters: dict[str, Any] = {
        "batch_chain_id": chain_id,
        "batch_head_seq": seq,
        "batch_head_hash": head,
    }
    for number, event in enumerate(events):
        parameters.update({f"e{number}_{name}": value for name, value in event.items()})
    if access:
        parameters["access_seqs"] = [e["seq"] for e in events for _ in e["resident_ids"]]
        parameters["access_residents"] = [r for e in events for r in e["resident_ids"]]
        parameters["access_ats"] = [e["at"] for e in events for _ in e["resident_ids"]]
    return statement, parameters


def _postgresql_statement(count: int, columns: tuple[str, ...], access: bool) -> Any:
    """The shape's statement, marked for the sink to run straight on asyncpg."""
    return direct.runs_alone(_build_postgresql_statement(count, columns, access))


@functools.lru_cache(maxsize=64)
def _build_postgresql_statement(count: int, columns: tuple[str, ...], access: bool) -> Any:
    """UPDATE of the head with the events' INSERT (and the index rows') as CTEs.

    Built and cached per shape (number of events, columns, index rows or not), with bound
    parameters only, and the events as a UNION ALL of SELECTs rather than a multi-row
    VALUES (which SQLAlchemy cannot cache): each shape is compiled once.
    """
    table = AuditEvent.__table__
    rows = union_all(
        *(
            select(*(bindparam(f"e{n}_{name}", type_=table.c[name].type) for name in columns))
            for n in range(count)
        )
    )
    statement = (
        update(AuditChain)
        .where(AuditChain.chain_id == bindparam("batch_chain_id", type_=String()))
        .values(
            head_seq=bindparam("batch_head_seq", type_=BigInteger()),
            head_hash=bindparam("batch_head_hash", type_=String()),
        )
        .add_cte(insert(AuditEvent).from_select(columns, rows).cte("written_events"))
    )
    if not access:
        return statement
    index_rows = select(
        bindparam("batch_chain_id", type_=String()),
        func.unnest(bindparam("access_seqs", type_=ARRAY(BigInteger()))),
        func.unnest(bindparam("access_residents", type_=ARRAY(String()))),
        func.unnest(bindparam("access_ats", type_=ARRAY(DateTime(timezone=True)))),
    )
    index = insert(AuditResidentAccess).from_select(ACCESS_COLUMNS, index_rows)
    return statement.add_cte(index.cte("written_access"))
