"""Signs the chain's head every N events or T seconds, off the request path.

The writer tells the checkpointer each committed head (a method call, no I/O); a task of
its own wakes when `every_events` events have passed since the last checkpoint, or
`every_seconds` after it, signs the head (hub/audit/checkpoints.py), stores it in
`audit_checkpoints` on the writer's connection, then hands it to the outside sinks (file
or folder, witness; hub/audit/outside.py). No request waits for any of it. A head that did
not move is not signed again. When the writer stops, the last head is signed too, so a
cleanly stopped chain is covered to its end; a crash leaves at most the events since the
last checkpoint uncovered (up to N, or T seconds' worth).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import insert

from hub.audit.checkpoints import CheckpointLine, sign_checkpoint
from hub.audit.outside import OutsideSink
from hub.audit.writer import AuditWriter, ChainHead
from hub.auth.keys import KeyStore
from hub.storage.models import AuditCheckpoint

logger = logging.getLogger("gridhub.audit")


class Checkpointer:
    def __init__(
        self,
        writer: AuditWriter,
        *,
        keystore: KeyStore,
        issuer: str,
        outside: list[OutsideSink],
        every_events: int,
        every_seconds: float,
    ) -> None:
        self.writer = writer
        self.keystore = keystore
        self.issuer = issuer
        self.outside = outside
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.signed_seq = 0
        self._taken_seq = 0  # the head being signed (counts as signed for the next trigger)
        self._head: ChainHead | None = None
        self._due = asyncio.Event()
        self._turn = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        writer.listeners.append(self)

    def committed(self, head: ChainHead) -> None:
        self._head = head
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-checkpointer")
        if head.seq - self._taken_seq >= self.every_events:
            self._due.set()

    async def checkpoint(self) -> CheckpointLine | None:
        """Sign and store the current head now (None if there is nothing new to sign)."""
        async with self._turn:
            head = self._head
            if head is None or head.seq == self.signed_seq:
                return None
            self._taken_seq = head.seq
            try:
                line = await asyncio.to_thread(self._sign, head)
                await self.writer.write([(insert(AuditCheckpoint), [line.row()])])
            except Exception:
                logger.exception("audit: checkpoint of seq %d not stored; retried later", head.seq)
                self._taken_seq = self.signed_seq
                return None
            self.signed_seq = head.seq
            await self._send_outside(line)  # in turn: the outside copies keep their order
        return line

    async def close(self) -> None:
        if self._task is not None:
            async with self._turn:  # never between signing and storing: the row would be lost
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.checkpoint()

    def _sign(self, head: ChainHead) -> CheckpointLine:
        return sign_checkpoint(
            self.keystore.signing_key(),
            chain_id=head.chain_id,
            seq=head.seq,
            hash=head.hash,
            at=head.at,
            issuer=self.issuer,
        )

    async def _send_outside(self, line: CheckpointLine) -> None:
        for sink in self.outside:
            try:
                await sink.put(line)
            except Exception:
                logger.exception(
                    "audit: checkpoint of seq %d not sent to %r", line.claims.seq, sink
                )

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), timeout=self.every_seconds)
            self._due.clear()
            try:
                await self.checkpoint()
            except Exception:  # never let the loop die: the next round tries again
                logger.exception("audit: checkpoint failed")
