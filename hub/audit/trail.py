"""The audit trail as the app uses it: the writer, the redactor, the checkpointer, the floods.

`AuditTrail.create(settings, engine)` wires them: every record the writer takes is
scrubbed by the redactor; the checkpointer signs the chain's head with the hub's signing
key every `HUB_AUDIT_CHECKPOINT_EVENTS` events or `HUB_AUDIT_CHECKPOINT_SECONDS` seconds
and writes it to the database, to `HUB_AUDIT_CHECKPOINT_DIR` and to the witness; refusals
that come in floods are aggregated (hub/audit/floods.py). `stop()` (or the writer's own
`stop()`, which the app calls) flushes the floods, drains the queue and signs the last head.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection

from hub.audit.checkpointer import Checkpointer
from hub.audit.checkpoints import CheckpointLine
from hub.audit.floods import FloodAggregator, aggregated
from hub.audit.key import audit_key
from hub.audit.outside import FileSink, OutsideSink, WitnessSink
from hub.audit.records import AuditRecord, Outcome
from hub.audit.redaction import Redactor
from hub.audit.writer import AuditWriter
from hub.auth.caller import Caller
from hub.auth.keys import KeyStore
from hub.config import Settings
from hub.errors import ErrorCode
from hub.request_headers import request_id_of, request_purpose
from hub.storage.base import utcnow


@dataclass
class AuditTrail:
    writer: AuditWriter
    redactor: Redactor
    checkpointer: Checkpointer
    floods: FloodAggregator

    @classmethod
    def create(cls, settings: Settings, engine: AsyncEngine) -> AuditTrail:
        redactor = Redactor(audit_key(settings))
        writer = AuditWriter(engine, max_batch=settings.audit_max_batch, scrub=redactor.record)
        outside: list[OutsideSink] = [FileSink(settings.audit_checkpoint_path)]
        if settings.audit_witness_url:
            outside.append(WitnessSink(settings.audit_witness_url))
        checkpointer = Checkpointer(
            writer,
            keystore=KeyStore.from_settings(settings),
            issuer=settings.issuer,
            outside=outside,
            every_events=settings.audit_checkpoint_events,
            every_seconds=settings.audit_checkpoint_seconds,
        )
        floods = FloodAggregator(writer.append)
        writer.before_stop.append(floods.close)
        return cls(writer=writer, redactor=redactor, checkpointer=checkpointer, floods=floods)

    async def checkpoint(self) -> CheckpointLine | None:
        """Sign the chain's head now (tests, and operators through the app state)."""
        return await self.checkpointer.checkpoint()

    async def stop(self) -> None:
        await self.writer.stop()

    async def record_unauthenticated(self, request: HTTPConnection, *, endpoint: str) -> None:
        """A request refused for its token never reaches GraphQL; it is audited here."""
        await self.record_refusal(
            request, endpoint=endpoint, outcome=Outcome.DENIED, code=ErrorCode.UNAUTHENTICATED
        )

    async def record_refusal(
        self,
        request: HTTPConnection,
        *,
        endpoint: str,
        outcome: Outcome,
        code: str,
        caller: Caller | None = None,
    ) -> None:
        """One event for a request refused before (or instead of) GraphQL execution.

        Unauthenticated and rate-limited refusals are aggregated per address and minute
        (hub/audit/floods.py): the first is written at once, the rest counted.
        """
        purpose = request_purpose(request.headers)
        caller = caller or Caller()
        record = AuditRecord(
            at=utcnow(),
            request_id=request_id_of(request.headers),
            endpoint=endpoint,
            outcome=outcome,
            duration_us=0,
            client_id=caller.client_id,
            subject=caller.subject,
            roles=list(caller.roles),
            scopes=sorted(caller.scopes),
            grid_scope=caller.grid_code if caller.grid_path else None,
            client_address=request.client.host if request.client else None,
            purpose=purpose.purpose,
            end_user=purpose.end_user,
            case_ref=purpose.case_ref,
            error_codes=[code],
            issuer=caller.issuer,
        )
        if aggregated(outcome, code):
            await self.floods.admit(record)
        else:
            await self.writer.append(record)
