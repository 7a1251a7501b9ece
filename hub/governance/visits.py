"""Home visits (入户走访): record a visit to a household, with a follow-up case when needed.

Session first, keyword-only after; flush, never commit (the caller owns the transaction and
rolls it back when a function raises). `record_visit` is idempotent under the caller's key.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import NotFoundError
from hub.governance import idempotency, permissions
from hub.governance.cases import open_case
from hub.governance.deadlines import Clock
from hub.governance.drafts import CaseDraft, check_optional_text, check_people
from hub.governance.enums import CaseSource
from hub.governance.fieldwork import check_past, civil_day, replayed
from hub.governance.permissions import Actor
from hub.storage.models import Grid, Household, Visit, VisitResident

MAX_FINDINGS = 4000


async def record_visit(
    session: AsyncSession,
    *,
    actor: Actor,
    idempotency_key: str,
    household_id: str,
    visited_at: datetime,
    resident_ids: Sequence[str] = (),
    findings: str | None = None,
    visitor_name: str | None = None,
    follow_up: CaseDraft | None = None,
    clock: Clock | None = None,
) -> Visit:
    """Record a visit to a household in the actor's subtree; `follow_up` opens a case for it."""
    clock = clock or Clock()
    arguments = {
        "household_id": household_id, "visited_at": visited_at.isoformat(),
        "resident_ids": list(resident_ids), "findings": findings, "visitor_name": visitor_name,
        "follow_up": follow_up.arguments() if follow_up else None,
    }  # fmt: skip
    permissions.require_scope(actor, permissions.VISITS_WRITE, "recording a visit")
    replay = await idempotency.claim(
        session, caller=actor.principal, key=idempotency_key, operation="recordVisit",
        arguments=arguments, now=clock.now,
    )  # fmt: skip
    if replay is not None:
        return await replayed(session, Visit, replay["visit_id"])
    household, grid = await _household(session, actor, household_id)
    check_past(visited_at, "visited_at", clock.now)
    met = tuple(dict.fromkeys(resident_ids))
    await check_people(session, resident_ids=met, household_ids=(), reaches=actor.reaches)
    visit = Visit(
        id=str(uuid.uuid4()), household_id=household.id, grid_code=grid.code,
        grid_path=grid.path, visitor=actor.principal,
        visitor_name=check_optional_text(visitor_name, "visitor_name", 64),
        visited_at=visited_at, visited_on=civil_day(visited_at),
        findings=check_optional_text(findings, "findings", MAX_FINDINGS), recorded_at=clock.now,
    )  # fmt: skip
    if follow_up is not None:
        draft = replace(follow_up, household_ids=(household.id, *follow_up.household_ids))
        case = await open_case(
            session, actor=actor, grid_code=grid.code, draft=draft, source=CaseSource.VISIT,
            clock=clock,
        )  # fmt: skip
        visit.follow_up_case_id = case.id
    session.add(visit)
    await session.flush()
    session.add_all(VisitResident(visit_id=visit.id, resident_id=r) for r in met)
    await session.flush()
    await idempotency.remember(
        session, caller=actor.principal, key=idempotency_key, result={"visit_id": visit.id}
    )
    return visit


async def _household(
    session: AsyncSession, actor: Actor, household_id: str
) -> tuple[Household, Grid]:
    row = (
        await session.execute(
            select(Household, Grid)
            .join(Grid, Grid.code == Household.grid_code)
            .where(Household.id == household_id)
        )
    ).first()
    if row is None or not actor.reaches(row[1].path):
        raise NotFoundError(
            f"no household {household_id!r} within your reach", household_id=household_id
        )
    household, grid = row
    permissions.require_field_work(
        actor, grid_code=grid.code, grid_path=grid.path, doing="recording a visit"
    )
    return household, grid
