"""The one path every move of a case takes: claim the key, lock, check, move, trace, remember.

`act` reads the legal move from `states.transition`, the party from `permissions`, the new
deadline from `deadlines`; the action's own work (moving the holding grid, adding
assignments, a rating) is a callback given the `Move`. The case UPDATE is version-checked
and flushed before its trace is added, so a concurrent mover gets `ConflictError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from hub.errors import ConflictError, NotFoundError
from hub.governance import idempotency, permissions
from hub.governance.cases import (
    acting_grid,
    assigned_departments,
    idempotent_result,
    replayed_case,
)
from hub.governance.deadlines import Clock, Deadlines
from hub.governance.drafts import MAX_NOTE, check_attachments, check_optional_text
from hub.governance.enums import CaseAction, Satisfaction
from hub.governance.permissions import Actor
from hub.governance.states import Rule, transition
from hub.storage.models import Case, CaseAssignment, CaseTrace


@dataclass(slots=True)
class Move:
    case: Case
    rule: Rule
    seq: int
    now: datetime
    deadlines: Deadlines
    satisfaction: Satisfaction | None = None
    assignments: list[CaseAssignment] = field(default_factory=list)  # added after the trace


async def act(
    session: AsyncSession,
    *,
    actor: Actor,
    case_id: str,
    action: CaseAction,
    expected_version: int,
    idempotency_key: str,
    note: str | None,
    attachments: Sequence[str],
    clock: Clock | None,
    extra: dict[str, Any],
    apply: Callable[[Move], Awaitable[None]] | None,
) -> Case:
    permissions.require_scope(actor, permissions.CASES_WRITE, f"{action} on a case")
    clock = clock or Clock()
    note = check_optional_text(note, "note", MAX_NOTE)
    hashes = check_attachments(attachments)
    arguments = {"case_id": case_id, "expected_version": expected_version, "note": note,
                 "attachments": hashes, **extra}  # fmt: skip
    replay = await idempotency.claim(
        session, caller=actor.principal, key=idempotency_key,
        operation=f"{action.lower()}Case", arguments=arguments, now=clock.now,
    )  # fmt: skip
    if replay is not None:
        return await replayed_case(session, replay)
    case = await _locked_case(session, case_id)
    departments = await assigned_departments(session, case_id=case_id)
    permissions.require_readable(actor, case, departments)
    _require_version(case, expected_version)
    rule = transition(case.state, action, held_at=case.holding_level)
    permissions.require_party(actor, case, action=action, rule=rule, departments=departments)
    move = Move(case, rule, await _next_seq(session, case.id), clock.now, clock.deadlines)
    if apply is not None:
        await apply(move)
    await _record(session, actor=actor, move=move, action=action, note=note, hashes=hashes)
    await idempotency.remember(
        session, caller=actor.principal, key=idempotency_key, result=idempotent_result(case)
    )
    return case


async def _record(
    session: AsyncSession,
    *,
    actor: Actor,
    move: Move,
    action: CaseAction,
    note: str | None,
    hashes: Sequence[str],
) -> None:
    """Move the case (version-checked UPDATE first), then append its trace."""
    case, previous, answered = move.case, move.case.state, move.case.due_at
    case.due_at = move.deadlines.due_after(
        from_state=previous, to_state=move.rule.next_state, level=case.holding_level,
        at=move.now, current_due=case.due_at,
    )  # fmt: skip
    case.state = move.rule.next_state
    case.state_since = move.now
    try:
        await session.flush()
    except StaleDataError as error:
        raise ConflictError(
            f"case {case.id} was changed by someone else meanwhile; reload it and decide again",
            case_id=case.id,
        ) from error
    session.add(
        CaseTrace(
            case_id=case.id, seq=move.seq, action=action, from_state=previous,
            to_state=case.state, at=move.now, actor=actor.principal, actor_role=actor.role,
            actor_grid_code=acting_grid(actor, case.grid_path),
            actor_department=actor.department, holding_grid_code=case.holding_grid_code,
            due_at=case.due_at, prior_due_at=answered, satisfaction=move.satisfaction, note=note,
            attachments=list(hashes),
        )
    )  # fmt: skip
    await session.flush()
    session.add_all(move.assignments)
    await session.flush()


def _require_version(case: Case, expected_version: int) -> None:
    if case.version != expected_version:
        raise ConflictError(
            f"case {case.id} is at version {case.version}, not {expected_version}: someone "
            "acted on it first; reload it and decide again",
            case_id=case.id,
            current_version=case.version,
        )


async def _locked_case(session: AsyncSession, case_id: str) -> Case:
    """The case, row-locked on PostgreSQL so a concurrent actor waits and then sees our move."""
    query = select(Case).where(Case.id == case_id).with_for_update()
    case = await session.scalar(query.execution_options(populate_existing=True))
    if case is None:
        raise NotFoundError(f"no case {case_id!r} within your reach", case_id=case_id)
    return case


async def _next_seq(session: AsyncSession, case_id: str) -> int:
    last = await session.scalar(select(func.max(CaseTrace.seq)).where(CaseTrace.case_id == case_id))
    return int(last or 0) + 1
