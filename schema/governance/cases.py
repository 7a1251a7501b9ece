"""Cases as GraphQL sees them: the case, its traces and assignments, pages of cases, drafts.

Every list of a case (its history, assignments, residents and households involved) is a
declared level load, so a page of cases costs the same few statements whatever its size.
`Case.from_row` reads a case row or ORM object; `overdue` is derived there, from `dueAt`
and the moment of the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import local_today
from hub.governance import loading
from hub.governance.deadlines import is_overdue
from hub.governance.drafts import CaseDraft
from hub.governance.permissions import Actor
from hub.governance.queries import CaseFilter, count_cases
from hub.governance.states import allowed_actions
from hub.storage import residents
from hub.storage.base import utcnow
from schema.context import Info
from schema.enums import Department, GridLevel
from schema.governance.common import RESIDENT_BASIC, check_key, check_keys, reading
from schema.governance.enums import (
    AssignmentKind,
    CaseAction,
    CaseCategory,
    CaseSource,
    CaseState,
    CaseSubtype,
    Satisfaction,
)
from schema.grid import GRIDS, Grid, GridMember
from schema.loads import Batch, Load, LoadScope, loaded
from schema.pagination import PageInfo
from schema.resident import Household, Resident, resident_from_row


async def _case_residents(
    connection: AsyncConnection, case_ids: Sequence[str], scope: LoadScope
) -> dict[str, list[Any]]:
    ids = await loading.resident_ids_by_case(connection, case_ids)
    wanted = sorted({resident for found in ids.values() for resident in found})
    rows = await residents.residents_by_id(
        connection, wanted, within_path=scope.within_path, fields=scope.fields
    )
    return {case: [rows[r] for r in found if r in rows] for case, found in ids.items()}


async def _case_households(
    connection: AsyncConnection, case_ids: Sequence[str], _: LoadScope
) -> dict[str, list[Any]]:
    ids = await loading.household_ids_by_case(connection, case_ids)
    wanted = sorted({household for found in ids.values() for household in found})
    rows = await residents.households_by_id(connection, wanted)
    return {case: [rows[h] for h in found if h in rows] for case, found in ids.items()}


CASES = Batch(
    "cases",
    lambda c, ids, scope: loading.cases_by_id(c, ids, within_path=scope.within_path),
    many=False,
)
TRACES = Batch("case_traces", lambda c, ids, _: loading.traces_by_case(c, ids))
ASSIGNMENTS = Batch(
    "case_assignments",
    lambda c, ids, scope: loading.assignments_by_case(c, ids, fields=scope.fields),
)
CASE_RESIDENTS = Batch("case_residents", _case_residents)
CASE_HOUSEHOLDS = Batch("case_households", _case_households)


@strawberry.type(description="One move of a case (留痕): who, in which role and grid, when, why.")
class CaseTrace:
    seq: int = strawberry.field(description="1, 2, 3 … per case; 1 is the report.")
    action: CaseAction
    from_state: CaseState | None
    to_state: CaseState
    at: datetime
    actor: str = strawberry.field(description="The client (and person) that made the move.")
    actor_role: str
    actor_grid_code: str | None = strawberry.field(
        description="The grid the actor acted for (the district's for the dispatcher)."
    )
    actor_department: Department | None
    holding_grid_code: str = strawberry.field(description="The grid holding the case after it.")
    due_at: datetime | None = strawberry.field(description="The deadline this move set.")
    prior_due_at: datetime | None = strawberry.field(
        description="The deadline in force when the move was made (the one it answered)."
    )
    late: bool = strawberry.field(description="Made after `priorDueAt`.")
    satisfaction: Satisfaction | None = strawberry.field(description="The rating, on CLOSE.")
    note: str | None
    attachments: list[str] = strawberry.field(description="SHA-256 of each attachment.")

    @classmethod
    def from_row(cls, row: Any) -> CaseTrace:
        prior = row.prior_due_at
        return cls(
            seq=row.seq, action=row.action, from_state=row.from_state, to_state=row.to_state,
            at=row.at, actor=row.actor, actor_role=row.actor_role,
            actor_grid_code=row.actor_grid_code, actor_department=row.actor_department,
            holding_grid_code=row.holding_grid_code, due_at=row.due_at, prior_due_at=prior,
            late=prior is not None and row.at > prior, satisfaction=row.satisfaction,
            note=row.note, attachments=list(row.attachments or ()),
        )  # fmt: skip


@strawberry.type(
    description="A case given to a post of the holding grid's board or to a department."
)
class CaseAssignment:
    id: strawberry.ID
    kind: AssignmentKind
    department: Department | None
    member: GridMember | None = strawberry.field(description="The post, for kind POST.")
    trace_seq: int = strawberry.field(description="The move (ACCEPT or ASSIGN) that made it.")
    assigned_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> CaseAssignment:
        member = None
        if row.member_id is not None:
            member = GridMember(
                name=row.member_name, post=row.member_post, kind=row.member_kind,
                phone=row.member_phone,
            )  # fmt: skip
        return cls(
            id=strawberry.ID(str(row.id)), kind=row.kind, department=row.department,
            member=member, trace_seq=row.trace_seq, assigned_at=row.assigned_at,
        )  # fmt: skip


@strawberry.type(
    description=(
        "A case (事件/诉求): reported in a grid, handled there or escalated level by level, "
        "verified and closed by the grid it was reported in."
    )
)
class Case:
    id: strawberry.ID
    version: int = strawberry.field(
        description="Pass it as `expectedVersion` to move the case; it grows with every move."
    )
    category: CaseCategory
    subtype: CaseSubtype
    group_appeal: bool = strawberry.field(description="群体诉求.")
    petition_beyond_district: bool = strawberry.field(description="越级上访.")
    mass_incident: bool = strawberry.field(description="群体性事件.")
    description: str
    location: str | None
    state: CaseState
    state_since: datetime
    due_at: datetime | None = strawberry.field(
        description="The deadline of the current stage (accept, or handle); none once resolved."
    )
    overdue: bool = strawberry.field(description="`dueAt` has passed (derived on every read).")
    satisfaction: Satisfaction | None
    source: CaseSource
    source_record_id: str | None = strawberry.field(
        description="The source system's record id, for cases fed by a connector (HOTLINE)."
    )
    reported_at: datetime
    reported_by: str
    reporter_role: str
    holding_level: GridLevel
    allowed_actions: list[CaseAction] = strawberry.field(
        description=(
            "The moves the transition table allows from this state at the holding grid's "
            "level (whoever may make them)."
        )
    )
    grid_code: strawberry.Private[str]
    holding_grid_code: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Any, now: datetime | None = None) -> Case:
        """From a `cases` row or a `hub.storage.models.Case`."""
        return cls(
            id=strawberry.ID(row.id), version=row.version, category=row.category,
            subtype=row.subtype, group_appeal=row.group_appeal,
            petition_beyond_district=row.petition_beyond_district,
            mass_incident=row.mass_incident, description=row.description,
            location=row.location, state=row.state, state_since=row.state_since,
            due_at=row.due_at, overdue=is_overdue(row.due_at, now or utcnow()),
            satisfaction=row.satisfaction, source=row.source,
            source_record_id=row.source_record_id, reported_at=row.reported_at,
            reported_by=row.reported_by, reporter_role=row.reporter_role,
            holding_level=row.holding_level,
            allowed_actions=allowed_actions(row.state, row.holding_level),
            grid_code=row.grid_code, holding_grid_code=row.holding_grid_code,
        )  # fmt: skip

    grid: Grid | None = loaded(
        Load(GRIDS, key="grid_code", convert=Grid.from_row),
        graphql_type=Grid | None,
        description="The grid it was reported in: it verifies and closes, KPIs count it there.",
    )
    holding_grid: Grid | None = loaded(
        Load(GRIDS, key="holding_grid_code", convert=Grid.from_row),
        graphql_type=Grid | None,
        description="The grid holding it now (climbs one level per escalation).",
    )
    history: list[CaseTrace] = loaded(
        Load(TRACES, key="id", convert=CaseTrace.from_row),
        graphql_type=list[CaseTrace],
        description="Every move, oldest first.",
    )
    assignments: list[CaseAssignment] = loaded(
        Load(ASSIGNMENTS, key="id", convert=CaseAssignment.from_row),
        graphql_type=list[CaseAssignment],
        description="Posts and departments it was given to, in the order of the moves.",
    )
    residents: list[Resident] | None = loaded(
        Load(CASE_RESIDENTS, key="id", convert=lambda row: resident_from_row(row, local_today())),
        graphql_type=list[Resident] | None,
        description="The residents involved (those within the caller's row scope).",
        requires_scopes=RESIDENT_BASIC,
    )
    households: list[Household] | None = loaded(
        Load(CASE_HOUSEHOLDS, key="id", convert=Household.from_row),
        graphql_type=list[Household] | None,
        description="The households involved.",
        requires_scopes=RESIDENT_BASIC,
    )


@strawberry.type
class CaseEdge:
    cursor: str
    node: Case


@strawberry.type(description="A page of cases, newest report first (Relay connection).")
class CaseConnection:
    edges: list[CaseEdge]
    page_info: PageInfo
    actor: strawberry.Private[Actor]
    filters: strawberry.Private[CaseFilter]
    now: strawberry.Private[datetime]

    @strawberry.field(description="Cases matching the filter in all pages.")
    async def total_count(self, info: Info) -> int:
        async with reading(info) as session:
            return await count_cases(session, actor=self.actor, filters=self.filters, now=self.now)


@strawberry.input(name="CaseFilter", description="Narrows a case list; every criterion must hold.")
class CaseFilterInput:
    grid: strawberry.ID | None = strawberry.field(
        default=None, description="Reported in this grid's subtree."
    )
    held_by: strawberry.ID | None = strawberry.field(
        default=None, description="Held by this very grid now (a level's in-tray)."
    )
    states: list[CaseState] | None = None
    categories: list[CaseCategory] | None = None
    overdue: bool | None = None
    department: Department | None = strawberry.field(
        default=None, description="Assigned to this department."
    )
    group_appeal: bool | None = None

    def to_filter(self) -> CaseFilter:
        return CaseFilter(
            grid_code=check_key(str(self.grid), "filter.grid") if self.grid else None,
            held_by=check_key(str(self.held_by), "filter.heldBy") if self.held_by else None,
            states=tuple(self.states or ()),
            categories=tuple(self.categories or ()),
            overdue=self.overdue,
            department=self.department,
            group_appeal=self.group_appeal,
        )


@strawberry.input(description="A new case: what happened, where, and who is involved.")
class CaseDraftInput:
    category: CaseCategory
    subtype: CaseSubtype
    description: str = strawberry.field(description="1 to 4,000 characters.")
    group_appeal: bool = False
    petition_beyond_district: bool = False
    mass_incident: bool = False
    location: str | None = None
    resident_ids: list[strawberry.ID] | None = None
    household_ids: list[strawberry.ID] | None = None
    note: str | None = strawberry.field(default=None, description="On the REPORT trace.")
    attachments: list[str] | None = strawberry.field(
        default=None, description="SHA-256 of each attachment (64 hex digits), at most 20."
    )

    def to_draft(self) -> CaseDraft:
        return CaseDraft(
            category=self.category,
            subtype=self.subtype,
            description=self.description,
            group_appeal=self.group_appeal,
            petition_beyond_district=self.petition_beyond_district,
            mass_incident=self.mass_incident,
            location=self.location,
            resident_ids=check_keys(self.resident_ids, "residentIds"),
            household_ids=check_keys(self.household_ids, "householdIds"),
            note=self.note,
            attachments=tuple(self.attachments or ()),
        )
