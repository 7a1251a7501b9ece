"""Walks every audit chain and names the first event that does not verify.

Per chain, events must run 1, 2, 3 … without gaps or repeats, each must name its
predecessor's hash, each must hash to its stored hash, and the last must be the chain's
recorded head. Together these catch a modified, deleted, inserted or reordered event,
and a truncated tail.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.records import GENESIS_HASH, event_hash
from hub.storage.models import AuditChain, AuditEvent


@dataclass(frozen=True)
class ChainReport:
    chain_id: str
    events: int
    head_seq: int
    problem: str | None = None
    event_id: int | None = None
    seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Walk:
    """The state of one chain's walk; `check` returns a problem or None."""

    def __init__(self, chain: Any) -> None:
        self.chain = chain
        self.seq = 0
        self.head = GENESIS_HASH
        self.count = 0

    def check(self, event: Any) -> str | None:
        self.count += 1
        if event.seq != self.seq + 1:
            what = "missing" if event.seq > self.seq + 1 else "repeated or out of order"
            return f"sequence jumps from {self.seq} to {event.seq}: an event is {what}"
        if event.prev_hash != self.head:
            return "does not follow its predecessor: an event was removed, inserted or moved"
        if event_hash(event._mapping) != event.hash:
            return "its content does not match its hash: the event was modified"
        self.seq, self.head = event.seq, event.hash
        return None

    def finish(self) -> str | None:
        if (self.seq, self.head) != (self.chain.head_seq, self.chain.head_hash):
            return (
                f"chain ends at seq {self.seq} but its head says {self.chain.head_seq}: "
                "events were removed from the end or added after it"
            )
        return None


async def _events(engine: AsyncEngine, chain_id: str) -> AsyncGenerator[Any, None]:
    query = select(AuditEvent.__table__).where(AuditEvent.chain_id == chain_id)
    async with engine.connect() as connection:
        result = await connection.stream(query.order_by(AuditEvent.seq, AuditEvent.id))
        async for row in result:
            yield row


async def verify_chain(engine: AsyncEngine, chain: Any) -> ChainReport:
    walk = _Walk(chain)
    async with contextlib.aclosing(_events(engine, chain.chain_id)) as events:
        async for event in events:
            problem = walk.check(event)
            if problem is not None:
                return ChainReport(
                    chain.chain_id, walk.count, chain.head_seq, problem, event.id, event.seq
                )
    problem = walk.finish()
    return ChainReport(chain.chain_id, walk.count, chain.head_seq, problem)


async def verify_all(engine: AsyncEngine) -> list[ChainReport]:
    async with engine.connect() as connection:
        chains = (
            await connection.execute(select(AuditChain.__table__).order_by(AuditChain.started_at))
        ).all()
    return [await verify_chain(engine, chain) for chain in chains]
