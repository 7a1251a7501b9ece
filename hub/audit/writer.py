"""The group-commit audit writer: requests queue their events, one transaction commits a batch.

Each request awaits its own event's commit, so it is answered only once the event is
durable; a failed commit fails every request of that batch (the caller then serves no
data). The chain's head advances only after a successful commit, so a failed batch
leaves no gap.

Every record passes `scrub` (the redactor) on its way in: whoever built it, no personal
number reaches the chain in clear. After each commit the writer tells its listeners the
new head (the checkpointer signs heads from it); when it stops, it first runs the
`before_stop` hooks (buffered refusals are flushed into the chain), drains its queue, then
closes its listeners (a last checkpoint) and its connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.partitions import PartitionKeeper
from hub.audit.records import GENESIS_HASH, AuditRecord
from hub.audit.sinks import Statement, sink_for
from hub.storage.base import utcnow
from hub.storage.models import AuditChain, AuditEvent, AuditResidentAccess

Pending = tuple[AuditRecord, "asyncio.Future[None]"]
logger = logging.getLogger("gridhub.audit")


class AuditUnavailableError(RuntimeError):
    """The audit store could not be written; no resident data may be served."""


@dataclass(frozen=True)
class ChainHead:
    """A chain's last committed event: what a checkpoint signs."""

    chain_id: str
    seq: int
    hash: str
    at: datetime


class CommitListener(Protocol):
    def committed(self, head: ChainHead) -> None: ...
    async def close(self) -> None: ...


class AuditWriter:
    """One chain per writer (per hub process); start lazily, stop when the app stops."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = 500,
        scrub: Callable[[AuditRecord], AuditRecord] | None = None,
    ) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.chain_id = str(uuid.uuid4())
        self.listeners: list[CommitListener] = []
        self.before_stop: list[Callable[[], Awaitable[None]]] = []
        self._scrub = scrub
        self._seq = 0
        self._head = GENESIS_HASH
        self._queue: asyncio.Queue[Pending] | None = None
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._sink = sink_for(engine)
        self._partitions = PartitionKeeper(engine.dialect.name)

    async def append(self, record: AuditRecord) -> None:
        """Return once `record` is committed; raise `AuditUnavailableError` if it cannot be."""
        if self._scrub is not None:
            record = self._scrub(record)
        queue = await self._started()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.put_nowait((record, future))
        await future

    async def write(self, statements: list[Statement]) -> None:
        """One more transaction on the writer's own connection (checkpoints use it)."""
        await self._sink.write(statements)

    async def stop(self) -> None:
        for hook in self.before_stop:
            try:
                await hook()
            except Exception:
                logger.exception("audit: flushing before stop failed")
        if self._task is not None:
            assert self._queue is not None
            await self._queue.join()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for listener in self.listeners:
            await listener.close()
        await self._sink.close()

    async def _started(self) -> asyncio.Queue[Pending]:
        async with self._starting:
            if self._queue is None:
                await self._register_chain()
                self._queue = asyncio.Queue()
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._run(self._queue), name="audit-writer")
        return self._queue

    async def _register_chain(self) -> None:
        started = utcnow()
        row = {
            "chain_id": self.chain_id,
            "started_at": started,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "head_seq": 0,
            "head_hash": GENESIS_HASH,
        }
        try:
            await self._sink.write([(insert(AuditChain), [row])])
        except Exception as error:
            raise AuditUnavailableError(f"cannot start the audit chain: {error}") from error
        await self._ensure_partitions(started)

    async def _ensure_partitions(self, at: datetime) -> None:
        if not self._partitions.due(at):
            return
        try:
            await self._sink.write([(s, None) for s in self._partitions.statements(at)])
        except Exception:  # the default partition takes the rows: logged, never fatal
            logger.exception("audit: cannot create the monthly partitions of audit_events")

    async def _run(self, queue: asyncio.Queue[Pending]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._commit(batch)
            except Exception as error:  # the store failed: every request of the batch fails
                logger.exception(
                    "audit batch of %d events not written; requests refused", len(batch)
                )
                failure = AuditUnavailableError(f"audit store unavailable: {error}")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _commit(self, batch: list[Pending]) -> None:
        seq, head = self._seq, self._head
        events: list[dict[str, Any]] = []
        for record, _ in batch:
            seq += 1
            event = record.chained(chain_id=self.chain_id, seq=seq, prev_hash=head)
            head = event["hash"]
            events.append(event)
        await self._ensure_partitions(events[-1]["at"])
        access = [
            {"chain_id": self.chain_id, "seq": e["seq"], "resident_id": r, "at": e["at"]}
            for e in events
            for r in e["resident_ids"]
        ]
        chain = update(AuditChain).where(AuditChain.chain_id == self.chain_id)
        statements: list[Statement] = [(insert(AuditEvent), events)]
        if access:
            statements.append((insert(AuditResidentAccess), access))
        statements.append((chain.values(head_seq=seq, head_hash=head), None))
        await self._sink.write(statements)
        self._seq, self._head = seq, head
        committed = ChainHead(self.chain_id, seq, head, events[-1]["at"])
        for listener in self.listeners:
            listener.committed(committed)
