"""The checkpoint and partition migration keeps every event, up and down, and they still verify."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import column, insert, table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.records import GENESIS_HASH, AuditRecord, Outcome
from hub.audit.verify import verify_all
from hub.storage import migrations
from hub.storage.models import AuditChain, AuditEvent, AuditResidentAccess
from hub.storage.session import create_engine

BEFORE = "3723344bd9eb"  # the head before audit checkpoints and partitions
CHAIN = "00000000-0000-4000-8000-000000000001"


def _old_table(name: str, values: dict[str, Any]) -> Any:
    """The table as the earlier revision has it: only the columns given."""
    model = {"audit_events": AuditEvent, "audit_resident_access": AuditResidentAccess}[name]
    return table(name, *(column(key, model.__table__.c[key].type) for key in values))


async def write_old_chain(engine: AsyncEngine, *, months: int = 3) -> None:
    """One event a month for `months` months before now, each returning a resident."""
    now = datetime.now(UTC)
    head = GENESIS_HASH
    async with engine.begin() as connection:
        await connection.execute(
            insert(AuditChain),
            [
                {
                    "chain_id": CHAIN,
                    "started_at": now,
                    "host": "old",
                    "pid": 1,
                    "head_seq": 0,
                    "head_hash": head,
                }
            ],
        )
        for seq in range(1, months + 1):
            record = AuditRecord(
                at=now - timedelta(days=31 * (months - seq)),
                request_id=f"old-{seq}",
                endpoint="graphql",
                outcome=Outcome.OK,
                duration_us=10,
                resident_ids=[f"r-{seq}"],
            )
            event = record.chained(chain_id=CHAIN, seq=seq, prev_hash=head)
            del event["issuer"], event["request_count"]
            head = event["hash"]
            await connection.execute(insert(_old_table("audit_events", event)), [event])
            access = {"chain_id": CHAIN, "seq": seq, "resident_id": f"r-{seq}", "at": event["at"]}
            await connection.execute(insert(_old_table("audit_resident_access", access)), [access])
        await connection.execute(
            text("UPDATE audit_chains SET head_seq = :seq, head_hash = :hash"),
            {"seq": months, "hash": head},
        )


async def counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as connection:
        events = await connection.scalar(text("SELECT count(*) FROM audit_events"))
        access = await connection.scalar(text("SELECT count(*) FROM audit_resident_access"))
    return int(events or 0), int(access or 0)


async def test_upgrade_keeps_existing_events_which_still_verify_and_downgrade_keeps_them_too(
    scratch_database_url: str, is_postgres: bool
) -> None:
    url = scratch_database_url
    await asyncio.to_thread(migrations.upgrade, url, BEFORE)
    engine = create_engine(url)
    try:
        await write_old_chain(engine)

        await asyncio.to_thread(migrations.upgrade, url)
        upgraded = await counts(engine)
        [report] = await verify_all(engine)
        await asyncio.to_thread(migrations.downgrade, url, BEFORE)
        downgraded = await counts(engine)
        await asyncio.to_thread(migrations.upgrade, url)
        [again] = await verify_all(engine)
        partitioned = await _partitions(engine) if is_postgres else None
    finally:
        await engine.dispose()

    assert upgraded == downgraded == (3, 3)
    assert (report.ok, report.events) == (True, 3), report.problem
    assert again.ok, again.problem
    if partitioned is not None:  # one table per month of the old events, and a default one
        assert len(partitioned) >= 4
        assert "audit_events_default" in partitioned


async def _partitions(engine: AsyncEngine) -> list[str]:
    query = text(
        "SELECT child.relname FROM pg_inherits "
        "JOIN pg_class parent ON parent.oid = pg_inherits.inhparent "
        "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
        "WHERE parent.relname = 'audit_events' AND parent.relkind = 'p'"
    )
    async with engine.connect() as connection:
        return list((await connection.scalars(query)).all())
