"""The audit trail as the app uses it: the writer, the redactor, and how requests reach them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection

from hub.audit.key import audit_key
from hub.audit.records import AuditRecord, Outcome
from hub.audit.redaction import Redactor
from hub.audit.writer import AuditWriter
from hub.auth.caller import Caller
from hub.config import Settings
from hub.errors import ErrorCode
from hub.request_headers import request_id_of, request_purpose
from hub.storage.base import utcnow


@dataclass
class AuditTrail:
    writer: AuditWriter
    redactor: Redactor

    @classmethod
    def create(cls, settings: Settings, engine: AsyncEngine) -> AuditTrail:
        writer = AuditWriter(engine, max_batch=settings.audit_max_batch)
        return cls(writer=writer, redactor=Redactor(audit_key(settings)))

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
        """One event for a request refused before (or instead of) GraphQL execution."""
        purpose = request_purpose(request.headers)
        caller = caller or Caller()
        await self.writer.append(
            AuditRecord(
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
            )
        )
