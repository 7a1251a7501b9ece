"""Daily patrols (日常巡查): record a walk of a grid; each finding becomes a case.

Session first, keyword-only after; flush, never commit (the caller owns the transaction and
rolls it back when a function raises). `record_patrol` is idempotent under the caller's key.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError
from hub.governance import idempotency, permissions
from hub.governance.cases import open_case
from hub.governance.deadlines import Clock
from hub.governance.drafts import CaseDraft, check_optional_text
from hub.governance.enums import CaseSource
from hub.governance.fieldwork import check_past, civil_day, grid_within, replayed
from hub.governance.permissions import Actor
from hub.storage.models import Patrol, PatrolFinding

MAX_PATROL = timedelta(hours=24)
MAX_FINDINGS = 50


async def record_patrol(
    session: AsyncSession,
    *,
    actor: Actor,
    idempotency_key: str,
    grid_code: str,
    started_at: datetime,
    ended_at: datetime,
    route_notes: str | None = None,
    walker_name: str | None = None,
    findings: Sequence[CaseDraft] = (),
    clock: Clock | None = None,
) -> Patrol:
    """Record a walk of a grid in the actor's subtree; each finding opens a case there."""
    clock = clock or Clock()
    arguments = {
        "grid_code": grid_code, "started_at": started_at.isoformat(),
        "ended_at": ended_at.isoformat(), "route_notes": route_notes, "walker_name": walker_name,
        "findings": [finding.arguments() for finding in findings],
    }  # fmt: skip
    permissions.require_scope(actor, permissions.VISITS_WRITE, "recording a patrol")
    replay = await idempotency.claim(
        session, caller=actor.principal, key=idempotency_key, operation="recordPatrol",
        arguments=arguments, now=clock.now,
    )  # fmt: skip
    if replay is not None:
        return await replayed(session, Patrol, replay["patrol_id"])
    grid = await grid_within(session, grid_code)
    permissions.require_field_work(
        actor, grid_code=grid.code, grid_path=grid.path, doing="recording a patrol"
    )
    _check_times(started_at, ended_at, clock.now)
    if len(findings) > MAX_FINDINGS:
        raise BadInputError(f"at most {MAX_FINDINGS} findings per patrol", field="findings")
    patrol = Patrol(
        id=str(uuid.uuid4()), grid_code=grid.code, grid_path=grid.path, walker=actor.principal,
        walker_name=check_optional_text(walker_name, "walker_name", 64), started_at=started_at,
        ended_at=ended_at, day=civil_day(started_at),
        route_notes=check_optional_text(route_notes, "route_notes", 4000), recorded_at=clock.now,
    )  # fmt: skip
    session.add(patrol)
    await session.flush()
    for finding in findings:
        case = await open_case(
            session, actor=actor, grid_code=grid.code, draft=finding, source=CaseSource.PATROL,
            clock=clock,
        )  # fmt: skip
        session.add(PatrolFinding(patrol_id=patrol.id, case_id=case.id))
    await session.flush()
    await idempotency.remember(
        session, caller=actor.principal, key=idempotency_key, result={"patrol_id": patrol.id}
    )
    return patrol


def _check_times(started_at: datetime, ended_at: datetime, now: datetime) -> None:
    check_past(started_at, "started_at", now)
    check_past(ended_at, "ended_at", now)
    if not started_at <= ended_at <= started_at + MAX_PATROL:
        raise BadInputError(
            "a patrol ends after it starts and lasts at most 24 hours", field="ended_at"
        )
