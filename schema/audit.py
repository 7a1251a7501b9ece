"""The auditor's API: audit events, per-resident access reports, and the chains' state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import Row
from strawberry import federation

from hub.audit import search
from hub.audit.records import Outcome
from hub.audit.verify import verify_all
from schema.cost import assumed, paged
from schema.department import Info
from schema.errors import BadUserInputError
from schema.pagination import PageInfo, check_page_size

AUDIT = [["audit:read"]]

strawberry.enum(Outcome, name="AuditOutcome", description="How a request ended.")


@strawberry.type(description="One GraphQL request as the audit trail recorded it.")
class AuditEvent:
    id: strawberry.ID
    chain_id: str
    seq: int
    at: datetime
    request_id: str
    endpoint: str
    client_id: str | None
    subject: str | None
    end_user: str | None
    case_ref: str | None
    roles: list[str]
    scopes: list[str]
    grid_scope: str | None
    client_address: str | None
    purpose: str | None
    operation_type: str | None
    operation_name: str | None
    document_hash: str | None
    outcome: Outcome
    resident_ids: list[str]
    fields: list[str] = strawberry.field(description="Protected fields resolved for the caller.")
    denied_paths: list[str]
    error_codes: list[str]
    duration_ms: float
    hash: str

    @classmethod
    def from_row(cls, row: Row[Any]) -> AuditEvent:
        m = row._mapping
        return cls(
            id=strawberry.ID(str(m["id"])),
            duration_ms=m["duration_us"] / 1000,
            outcome=Outcome(m["outcome"]),
            **{
                name: m[name]
                for name in cls.__annotations__
                if name not in ("id", "duration_ms", "outcome")
            },
        )


@strawberry.input(description="Narrows the audit events; every given criterion must hold.")
class AuditFilter:
    client_id: str | None = None
    subject: str | None = None
    resident_id: strawberry.ID | None = None
    outcome: Outcome | None = None
    operation_name: str | None = None
    field: str | None = strawberry.field(default=None, description="e.g. PoliceProfile.flags")
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None

    def to_criteria(self) -> search.EventFilter:
        return search.EventFilter(
            client_id=self.client_id,
            subject=self.subject,
            resident_id=str(self.resident_id) if self.resident_id is not None else None,
            outcome=self.outcome.value if self.outcome is not None else None,
            operation_name=self.operation_name,
            field=self.field,
            start=self.from_,
            end=self.to,
        )


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@strawberry.type(description="A page of audit events, newest first.")
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo
    criteria: strawberry.Private[search.EventFilter]

    @strawberry.field
    async def total_count(self, info: Info) -> int:
        async with info.context.database.connect() as connection:
            return await search.count_events(connection, criteria=self.criteria)


@strawberry.type(description="One access to a resident's data: who, when, why, which fields.")
class ResidentAccess:
    event_id: strawberry.ID
    at: datetime
    client_id: str | None
    subject: str | None
    end_user: str | None
    case_ref: str | None
    roles: list[str]
    purpose: str | None
    operation_name: str | None
    fields: list[str]
    outcome: Outcome


@strawberry.type(description="Who accessed one resident's data (what the resident may be shown).")
class ResidentAccessReport:
    resident_id: strawberry.ID
    accesses: list[ResidentAccess] = strawberry.field(directives=[assumed(100)])


@strawberry.type(description="One hub process's hash chain and whether it verifies.")
class AuditChainStatus:
    chain_id: str
    events: int
    head_seq: int
    verified: bool
    problem: str | None
    first_bad_event_id: strawberry.ID | None


def _cursor_id(after: str | None) -> int | None:
    if after is None:
        return None
    if not after.isdigit():
        raise BadUserInputError("`after` must be an event cursor from this API", argument="after")
    return int(after)


@strawberry.type
class AuditQuery:
    @federation.field(
        requires_scopes=AUDIT, description="Audit events, newest first.", directives=[paged()]
    )
    async def audit_events(
        self,
        info: Info,
        filter: AuditFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> AuditEventConnection | None:
        check_page_size(first, maximum=info.context.max_page_size)
        criteria = filter.to_criteria() if filter is not None else search.EventFilter()
        async with info.context.database.connect() as connection:
            rows = await search.find_events(
                connection, criteria=criteria, limit=first + 1, before_id=_cursor_id(after)
            )
        edges = [
            AuditEventEdge(cursor=str(r.id), node=AuditEvent.from_row(r)) for r in rows[:first]
        ]
        page = PageInfo(
            has_next_page=len(rows) > first,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )
        return AuditEventConnection(edges=edges, page_info=page, criteria=criteria)

    @federation.field(requires_scopes=AUDIT, description="Who accessed a resident's data.")
    async def resident_access_report(
        self,
        info: Info,
        resident_id: strawberry.ID,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> ResidentAccessReport | None:
        async with info.context.database.connect() as connection:
            rows = await search.resident_accesses(
                connection, resident_id=str(resident_id), start=from_, end=to
            )
        accesses = [
            ResidentAccess(
                event_id=strawberry.ID(str(row.id)),
                **{name: getattr(row, name) for name in _ACCESS_COLUMNS},
                outcome=Outcome(row.outcome),
            )
            for row in rows
        ]
        return ResidentAccessReport(resident_id=resident_id, accesses=accesses)

    @federation.field(
        requires_scopes=AUDIT,
        description="Verifies every audit chain now.",
        directives=[assumed(10)],
    )
    async def audit_chain_status(self, info: Info) -> list[AuditChainStatus] | None:
        reports = await verify_all(info.context.database.engine)
        return [
            AuditChainStatus(
                chain_id=r.chain_id,
                events=r.events,
                head_seq=r.head_seq,
                verified=r.ok,
                problem=r.problem,
                first_bad_event_id=strawberry.ID(str(r.event_id)) if r.event_id else None,
            )
            for r in reports
        ]


_ACCESS_COLUMNS = (
    "at",
    "client_id",
    "subject",
    "end_user",
    "case_ref",
    "roles",
    "purpose",
    "operation_name",
    "fields",
)
