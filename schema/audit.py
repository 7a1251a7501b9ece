"""The auditor's API: audit events, per-resident access reports, and the chains' state.

Auditors may start from what a citizen brings, an ID number: `residentAccessReport(idNumber:)`
and `auditEvents(filter: {idNumber:})`. The trail holds numbers only as keyed hashes; the
hub's redactor turns the number into its hash for the search.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import Row
from strawberry import federation

from hub.audit import search
from hub.audit.checkpoints import TrustedKeys
from hub.audit.key import audit_key
from hub.audit.records import Outcome
from hub.audit.redaction import Redactor
from hub.audit.status import ChainStatus, chain_statuses
from hub.errors import NotFoundError
from hub.identity import IdNumberError, normalize_id_number
from hub.storage import residents
from schema.cost import assumed, paged
from schema.department import Info
from schema.errors import BadUserInputError
from schema.pagination import PageInfo, check_page_size

AUDIT = [["audit:read"]]

strawberry.enum(Outcome, name="AuditOutcome", description="How a request ended.")


@strawberry.type(
    description="One change a mutation committed: a case move (its case, action and "
    "transition), a visit, a patrol or a joint meeting."
)
class AuditWrite:
    kind: str = strawberry.field(description="case, visit, patrol or meeting")
    id: strawberry.ID
    action: str | None = strawberry.field(default=None, description="Cases: REPORT, ACCEPT, …")
    from_state: str | None = strawberry.field(default=None, description="Cases: before the move.")
    to_state: str | None = strawberry.field(default=None, description="Cases: after the move.")
    seq: int | None = strawberry.field(default=None, description="Cases: the trace's number.")

    @classmethod
    def of(cls, entry: dict[str, Any]) -> AuditWrite:
        return cls(
            kind=str(entry["kind"]), id=strawberry.ID(str(entry["id"])),
            action=entry.get("action"), from_state=entry.get("from"),
            to_state=entry.get("to"), seq=entry.get("seq"),
        )  # fmt: skip


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
    issuer: str | None = strawberry.field(description="The token's issuer (`iss`).")
    request_count: int = strawberry.field(
        description="Requests this event stands for: more than 1 for a flood of refusals "
        "from one address, aggregated per minute (the request id is the first's)."
    )
    writes: list[AuditWrite] = strawberry.field(
        description="What a mutation changed, as committed (none for a replay or a refusal)."
    )
    hash: str

    @classmethod
    def from_row(cls, row: Row[Any]) -> AuditEvent:
        m = row._mapping
        return cls(
            id=strawberry.ID(str(m["id"])),
            duration_ms=m["duration_us"] / 1000,
            outcome=Outcome(m["outcome"]),
            writes=[AuditWrite.of(entry) for entry in m["writes"] or []],
            **{
                name: m[name]
                for name in cls.__annotations__
                if name not in ("id", "duration_ms", "outcome", "writes")
            },
        )


@strawberry.input(description="Narrows the audit events; every given criterion must hold.")
class AuditFilter:
    client_id: str | None = None
    subject: str | None = None
    resident_id: strawberry.ID | None = None
    id_number: str | None = strawberry.field(
        default=None,
        description="An ID number as the citizen brings it: the events that asked for it "
        "(in variables or headers) and those that returned its resident.",
    )
    issuer: str | None = strawberry.field(default=None, description="The token's issuer.")
    outcome: Outcome | None = None
    operation_name: str | None = None
    field: str | None = strawberry.field(default=None, description="e.g. PoliceProfile.flags")
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None


async def _criteria(info: Info, given: AuditFilter | None) -> search.EventFilter:
    if given is None:
        return search.EventFilter()
    redactor = _redactor(info)
    token = resident_id = None
    if given.id_number is not None:
        number = _id_number(given.id_number, argument="filter.idNumber")
        token = redactor.number_token(number)
        resident = await _resident(info, id_number=number)
        resident_id = resident.id if resident is not None else None
    return search.EventFilter(
        client_id=given.client_id,
        subject=redactor.text(given.subject) if given.subject is not None else None,
        resident_id=str(given.resident_id) if given.resident_id is not None else None,
        outcome=given.outcome.value if given.outcome is not None else None,
        operation_name=given.operation_name,
        field=given.field,
        start=given.from_,
        end=given.to,
        issuer=given.issuer,
        number_token=token,
        number_resident_id=resident_id,
    )


def _id_number(raw: str, *, argument: str) -> str:
    try:
        return normalize_id_number(raw)
    except IdNumberError as error:
        raise BadUserInputError(
            f"`{argument}` is not a valid ID number: {error}", argument=argument
        ) from error


async def _resident(
    info: Info, *, resident_id: str | None = None, id_number: str | None = None
) -> Any:
    async with info.context.database.connect() as connection:
        return await residents.get_resident(
            connection,
            resident_id=resident_id,
            id_number=id_number,
            within_path=None,
            fields=info.context.fields,
        )


def _app_state(info: Info) -> Any:
    """The hub app's state (create_app): its audit trail, auth runtime and settings."""
    connection = info.context.request.connection
    app = connection.scope.get("app") if connection is not None else None  # `.app` raises
    return getattr(app, "state", None)


def _redactor(info: Info) -> Redactor:
    """The running trail's redactor (its audit key), or one with the same key."""
    state = _app_state(info)
    trail = getattr(state, "audit", None)
    if trail is not None:
        redactor: Redactor = trail.redactor
        return redactor
    settings = getattr(state, "settings", None)
    if settings is None:
        raise RuntimeError("searching by ID number needs the hub app (its audit key)")
    return Redactor(audit_key(settings))


def _trusted_keys(info: Info) -> TrustedKeys:
    """Every signing key the hub holds on disk, retired ones included."""
    auth = getattr(_app_state(info), "auth", None)
    return {key.kid: key.key for key in auth.keystore.list_keys()} if auth is not None else {}


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


@strawberry.type(
    description="A chain's head, signed with the hub's key (JWS, verifiable with the JWKS)."
)
class AuditCheckpoint:
    seq: int
    hash: str
    at: datetime = strawberry.field(description="The time of event `seq`.")
    signed_at: datetime
    kid: str
    jws: str
    signature_valid: bool | None = strawberry.field(
        description="Null when signed with a key the hub no longer holds."
    )


@strawberry.type(
    description="One hub process's hash chain: its last checkpoint, and whether the events "
    "from it to the head verify (`hub audit verify` walks the whole chain)."
)
class AuditChainStatus:
    chain_id: str
    host: str
    pid: int
    events: int
    head_seq: int
    verified: bool
    problem: str | None
    first_bad_event_id: strawberry.ID | None
    checked_from_seq: int = strawberry.field(description="Events from this seq on were checked.")
    last_checkpoint: AuditCheckpoint | None

    @classmethod
    def from_status(cls, status: ChainStatus) -> AuditChainStatus:
        report, last = status.report, status.last_checkpoint
        checkpoint = None
        if last is not None:
            checkpoint = AuditCheckpoint(
                seq=last.claims.seq,
                hash=last.claims.hash,
                at=last.claims.at,
                signed_at=last.claims.signed_at,
                kid=last.kid,
                jws=last.jws,
                signature_valid=last.signature_valid,
            )
        return cls(
            chain_id=report.chain_id,
            host=status.host,
            pid=status.pid,
            events=report.events,
            head_seq=report.head_seq,
            verified=report.ok,
            problem=report.problem,
            first_bad_event_id=strawberry.ID(str(report.event_id)) if report.event_id else None,
            checked_from_seq=status.checked_from_seq,
            last_checkpoint=checkpoint,
        )


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
        criteria = await _criteria(info, filter)
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

    @federation.field(
        requires_scopes=AUDIT,
        description="Who accessed a resident's data, by the resident's id or ID number "
        "(exactly one); an unknown resident is NOT_FOUND.",
    )
    async def resident_access_report(
        self,
        info: Info,
        resident_id: strawberry.ID | None = None,
        id_number: str | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> ResidentAccessReport | None:
        if (resident_id is None) == (id_number is None):
            raise BadUserInputError("pass exactly one of `residentId` and `idNumber`")
        number = _id_number(id_number, argument="idNumber") if id_number is not None else None
        resident = await _resident(
            info, resident_id=str(resident_id) if resident_id else None, id_number=number
        )
        if resident is None:
            raise NotFoundError("no resident with that id or ID number; check the number")
        async with info.context.database.connect() as connection:
            rows = await search.resident_accesses(
                connection, resident_id=resident.id, start=from_, end=to
            )
        accesses = [
            ResidentAccess(
                event_id=strawberry.ID(str(row.id)),
                **{name: getattr(row, name) for name in _ACCESS_COLUMNS},
                outcome=Outcome(row.outcome),
            )
            for row in rows
        ]
        return ResidentAccessReport(resident_id=strawberry.ID(resident.id), accesses=accesses)

    @federation.field(
        requires_scopes=AUDIT,
        description="Each chain's last checkpoint and whether the events since it verify.",
        directives=[assumed(10)],
    )
    async def audit_chain_status(self, info: Info) -> list[AuditChainStatus] | None:
        async with info.context.database.connect() as connection:
            statuses = await chain_statuses(connection, keys=_trusted_keys(info))
        return [AuditChainStatus.from_status(status) for status in statuses]


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
