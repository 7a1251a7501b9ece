"""Case service: report a case (in a grid, or fed by a connector), read it and its history.

Every function takes the session first and keyword-only arguments after it. The functions
flush but never commit: the caller owns the transaction
(`async with sessionmaker() as session, session.begin(): ...`) and rolls it back when one
raises. Reporting takes the caller's idempotency key: a retry returns the same case and
creates nothing. Moving a case on is `hub.governance.actions`; every case starts with a
REPORT trace.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError, NotFoundError
from hub.governance import idempotency, permissions
from hub.governance.deadlines import Clock
from hub.governance.drafts import CaseDraft, check_draft, check_people
from hub.governance.enums import CaseAction, CaseSource
from hub.governance.permissions import Actor, ActorKind
from hub.governance.states import INITIAL_STATE
from hub.storage.models import (
    Case,
    CaseAssignment,
    CaseHousehold,
    CaseResident,
    CaseTrace,
    Grid,
)
from hub.vocabulary import Department

# --- reading ---------------------------------------------------------------------------------


async def get_case(session: AsyncSession, *, actor: Actor, case_id: str) -> Case | None:
    """The case, or None when it does not exist or lies beyond the actor's reach."""
    case = await session.get(Case, case_id)
    if case is None:
        return None
    departments = await assigned_departments(session, case_id=case_id)
    return case if permissions.can_read_case(actor, case, departments) else None


async def case_history(session: AsyncSession, *, actor: Actor, case_id: str) -> list[CaseTrace]:
    """The case's traces, oldest first ([] when the actor cannot see the case)."""
    if await get_case(session, actor=actor, case_id=case_id) is None:
        return []
    query = select(CaseTrace).where(CaseTrace.case_id == case_id).order_by(CaseTrace.seq)
    return list(await session.scalars(query))


async def case_assignments(
    session: AsyncSession, *, actor: Actor, case_id: str
) -> list[CaseAssignment]:
    if await get_case(session, actor=actor, case_id=case_id) is None:
        return []
    query = (
        select(CaseAssignment)
        .where(CaseAssignment.case_id == case_id)
        .order_by(CaseAssignment.trace_seq, CaseAssignment.id)
    )
    return list(await session.scalars(query))


async def assigned_departments(session: AsyncSession, *, case_id: str) -> set[Department]:
    query = select(CaseAssignment.department).where(
        CaseAssignment.case_id == case_id, CaseAssignment.department.is_not(None)
    )
    return {department for department in await session.scalars(query) if department is not None}


# --- reporting -------------------------------------------------------------------------------


async def report_case(
    session: AsyncSession,
    *,
    actor: Actor,
    idempotency_key: str,
    grid_code: str,
    draft: CaseDraft,
    source: CaseSource | None = None,
    clock: Clock | None = None,
) -> Case:
    """Report a case in `grid_code` (the actor's subtree; the dispatcher: anywhere)."""
    clock = clock or Clock()
    arguments = {"grid_code": grid_code, "draft": draft.arguments(), "source": source}
    replay = await idempotency.claim(
        session, caller=actor.principal, key=idempotency_key, operation="reportCase",
        arguments=arguments, now=clock.now,
    )  # fmt: skip
    if replay is not None:
        return await replayed_case(session, replay)
    case = await open_case(
        session, actor=actor, grid_code=grid_code, draft=draft,
        source=source or _default_source(actor), clock=clock,
    )  # fmt: skip
    await idempotency.remember(
        session, caller=actor.principal, key=idempotency_key, result=idempotent_result(case)
    )
    return case


async def open_case(
    session: AsyncSession,
    *,
    actor: Actor,
    grid_code: str,
    draft: CaseDraft,
    source: CaseSource,
    clock: Clock,
) -> Case:
    """Create a REPORTED case for the actor (no idempotency: visits and patrols bring theirs)."""
    grid = await load_grid(session, grid_code)
    permissions.require_report(actor, grid_code=grid.code, grid_path=grid.path)
    draft = check_draft(draft)
    await check_people(
        session,
        resident_ids=draft.resident_ids,
        household_ids=draft.household_ids,
        reaches=actor.reaches,
    )
    return await _insert_case(
        session,
        grid=grid,
        draft=draft,
        source=source,
        source_record_id=None,
        reporter=(actor.principal, actor.role, acting_grid(actor, grid.path), actor.department),
        clock=clock,
    )


async def receive_external_case(
    session: AsyncSession,
    *,
    connector: str,
    source: CaseSource,
    source_record_id: str,
    grid_code: str,
    draft: CaseDraft,
    clock: Clock | None = None,
) -> tuple[Case, bool]:
    """A case fed by a connector (the citizen hotline): created once per source record.

    Returns the case and whether it was created now; a record seen before returns its case.
    """
    clock = clock or Clock()
    existing = await session.scalar(
        select(Case).where(Case.source == source, Case.source_record_id == source_record_id)
    )
    if existing is not None:
        return existing, False
    grid = await load_grid(session, grid_code)
    draft = check_draft(draft)
    await check_people(
        session, resident_ids=draft.resident_ids, household_ids=draft.household_ids, reaches=None
    )
    case = await _insert_case(
        session,
        grid=grid,
        draft=draft,
        source=source,
        source_record_id=source_record_id,
        reporter=(f"connector:{connector}", "connector", None, None),
        clock=clock,
    )
    return case, True


Reporter = tuple[str, str, str | None, Department | None]
"""principal, role, the grid it acted for, its department."""


async def _insert_case(
    session: AsyncSession,
    *,
    grid: Grid,
    draft: CaseDraft,
    source: CaseSource,
    source_record_id: str | None,
    reporter: Reporter,
    clock: Clock,
) -> Case:
    now = clock.now
    due = clock.deadlines.due_after(
        from_state=None, to_state=INITIAL_STATE, level=grid.level, at=now, current_due=None
    )
    case = Case(
        id=str(uuid.uuid4()),
        category=draft.category,
        subtype=draft.subtype,
        group_appeal=draft.group_appeal,
        petition_beyond_district=draft.petition_beyond_district,
        mass_incident=draft.mass_incident,
        description=draft.description,
        location=draft.location,
        grid_code=grid.code,
        grid_path=grid.path,
        holding_grid_code=grid.code,
        holding_grid_path=grid.path,
        holding_level=grid.level,
        state=INITIAL_STATE,
        state_since=now,
        due_at=due,
        source=source,
        source_record_id=source_record_id,
        reported_at=now,
        reported_by=reporter[0],
        reporter_role=reporter[1],
    )
    session.add(case)
    await session.flush()
    session.add_all(CaseResident(case_id=case.id, resident_id=r) for r in draft.resident_ids)
    session.add_all(CaseHousehold(case_id=case.id, household_id=h) for h in draft.household_ids)
    session.add(
        CaseTrace(
            case_id=case.id, seq=1, action=CaseAction.REPORT, from_state=None,
            to_state=INITIAL_STATE, at=now, actor=reporter[0], actor_role=reporter[1],
            actor_grid_code=reporter[2], actor_department=reporter[3],
            holding_grid_code=grid.code, due_at=due, note=draft.note,
            attachments=list(draft.attachments),
        )
    )  # fmt: skip
    await session.flush()
    return case


async def load_grid(session: AsyncSession, code: str) -> Grid:
    grid = await session.get(Grid, code)
    if grid is None:
        raise BadInputError(f"unknown grid {code!r}", field="grid")
    return grid


def acting_grid(actor: Actor, case_grid_path: str) -> str | None:
    """The grid the actor acted for: its own, the district for the dispatcher, none for others."""
    if actor.kind is ActorKind.GRID:
        return actor.grid_code
    if actor.kind is ActorKind.DISPATCHER:
        return case_grid_path.split("/", 1)[0]
    return None


def _default_source(actor: Actor) -> CaseSource:
    if actor.kind is ActorKind.DISPATCHER:
        return CaseSource.DISPATCHER
    return CaseSource.SERVICE_CENTER if actor.role == "service_center_clerk" else CaseSource.GRID


def idempotent_result(case: Case) -> dict[str, Any]:
    return {"case_id": case.id, "version": case.version}


async def replayed_case(session: AsyncSession, result: dict[str, Any]) -> Case:
    """The case a first call produced (as it is now: later moves are not undone)."""
    case = await session.get(Case, result["case_id"])
    if case is None:  # pragma: no cover - cases are never deleted
        raise NotFoundError(f"case {result['case_id']!r} no longer exists")
    return case
