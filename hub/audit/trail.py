"""The audit trail as the app uses it: the writer, the redactor, and how requests reach them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from strawberry.extensions import SchemaExtension

from hub.audit.key import audit_key
from hub.audit.records import AuditRecord, Outcome
from hub.audit.redaction import Redactor
from hub.audit.writer import AuditWriter
from hub.config import Settings
from hub.request_headers import request_id_of, request_purpose
from hub.storage.base import utcnow
from schema.errors import UNAUTHENTICATED
from schema.extensions.audit import AuditExtension


@dataclass
class AuditTrail:
    writer: AuditWriter
    redactor: Redactor

    @classmethod
    def create(cls, settings: Settings, engine: AsyncEngine) -> AuditTrail:
        writer = AuditWriter(engine, max_batch=settings.audit_max_batch)
        return cls(writer=writer, redactor=Redactor(audit_key(settings)))

    def extension(self) -> SchemaExtension:
        return AuditExtension(writer=self.writer, redactor=self.redactor)

    async def record_unauthenticated(self, request: Request, *, endpoint: str) -> None:
        """A request refused for its token never reaches GraphQL; it is audited here."""
        purpose = request_purpose(request.headers)
        await self.writer.append(
            AuditRecord(
                at=utcnow(),
                request_id=request_id_of(request.headers),
                endpoint=endpoint,
                outcome=Outcome.DENIED,
                duration_us=0,
                client_address=request.client.host if request.client else None,
                purpose=purpose.purpose,
                end_user=purpose.end_user,
                case_ref=purpose.case_ref,
                error_codes=[UNAUTHENTICATED],
            )
        )
