"""Moving a case: accept, escalate, assign, resolve, verify, close, reopen.

Session first, keyword-only after; flush, never commit (the caller owns the transaction and
rolls it back when one raises). Each takes the caller's idempotency key (a retry returns the
same case and changes nothing) and the version the caller saw (`ConflictError` when someone
moved the case first). Which moves are legal is `states.TRANSITIONS`; who may make them,
`permissions`; every move appends a trace (`lifecycle.act`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError, InvalidTransitionError
from hub.governance.cases import load_grid
from hub.governance.deadlines import Clock
from hub.governance.enums import AssignmentKind, CaseAction, Satisfaction
from hub.governance.lifecycle import Move, act
from hub.governance.permissions import Actor
from hub.storage.models import Case, CaseAssignment, Grid, GridMember
from hub.vocabulary import Department


async def accept_case(
    session: AsyncSession,
    *,
    actor: Actor,
    case_id: str,
    expected_version: int,
    idempotency_key: str,
    post_member_ids: Sequence[int] = (),
    note: str | None = None,
    attachments: Sequence[str] = (),
    clock: Clock | None = None,
) -> Case:
    """The holding grid takes the case on, optionally naming posts of its board to handle it."""
    members = tuple(dict.fromkeys(post_member_ids))

    async def apply(move: Move) -> None:
        await _assign_posts(session, move, members)

    return await act(
        session, actor=actor, case_id=case_id, action=CaseAction.ACCEPT,
        expected_version=expected_version, idempotency_key=idempotency_key, note=note,
        attachments=attachments, clock=clock, extra={"post_member_ids": members}, apply=apply,
    )  # fmt: skip


async def escalate_case(
    session: AsyncSession,
    *,
    actor: Actor,
    case_id: str,
    expected_version: int,
    idempotency_key: str,
    note: str | None = None,
    attachments: Sequence[str] = (),
    clock: Clock | None = None,
) -> Case:
    """Hand the case up to the parent of the grid holding it (one level per escalation)."""

    async def apply(move: Move) -> None:
        parent = await _parent(session, move.case)
        move.case.holding_grid_code = parent.code
        move.case.holding_grid_path = parent.path
        move.case.holding_level = parent.level

    return await act(
        session, actor=actor, case_id=case_id, action=CaseAction.ESCALATE,
        expected_version=expected_version, idempotency_key=idempotency_key, note=note,
        attachments=attachments, clock=clock, extra={}, apply=apply,
    )  # fmt: skip


async def assign_case(
    session: AsyncSession,
    *,
    actor: Actor,
    case_id: str,
    expected_version: int,
    idempotency_key: str,
    departments: Sequence[Department],
    note: str | None = None,
    attachments: Sequence[str] = (),
    clock: Clock | None = None,
) -> Case:
    """The district dispatcher gives the case to one or more departments for joint handling."""
    chosen = tuple(dict.fromkeys(Department(department) for department in departments))
    if not chosen:
        raise BadInputError(
            "name at least one department to assign the case to", field="departments"
        )

    async def apply(move: Move) -> None:
        move.assignments.extend(
            CaseAssignment(
                case_id=move.case.id, kind=AssignmentKind.DEPARTMENT, department=department,
                trace_seq=move.seq, assigned_at=move.now,
            )
            for department in chosen
        )  # fmt: skip

    return await act(
        session, actor=actor, case_id=case_id, action=CaseAction.ASSIGN,
        expected_version=expected_version, idempotency_key=idempotency_key, note=note,
        attachments=attachments, clock=clock, extra={"departments": chosen}, apply=apply,
    )  # fmt: skip


async def resolve_case(
    session: AsyncSession,
    *,
    actor: Actor,
    case_id: str,
    expected_version: int,
    idempotency_key: str,
    note: str | None = None,
    attachments: Sequence[str] = (),
    clock: Clock | None = None,
) -> Case:
    """The holding grid (or an assigned department) reports the case resolved."""
    return await act(
        session, actor=actor, case_id=case_id, action=CaseAction.RESOLVE,
        expected_version=expected_version, idempotency_key=idempotency_key, note=note,
        attachments=attachments, clock=clock, extra={}, apply=None,
    )  # fmt: skip


async def verify_case(
    session: AsyncSession,
    *,
    actor: Actor,
    case_id: str,
    expected_version: int,
    idempotency_key: str,
    note: str | None = None,
    attachments: Sequence[str] = (),
    clock: Clock | None = None,
) -> Case:
    """The reporting grid checks on the spot that the resolution holds."""
    return await act(
        session, actor=actor, case_id=case_id, action=CaseAction.VERIFY,
        expected_version=expected_version, idempotency_key=idempotency_key, note=note,
        attachments=attachments, clock=clock, extra={}, apply=None,
    )  # fmt: skip


async def close_case(
    session: AsyncSession,
    *,
    actor: Actor,
    case_id: str,
    expected_version: int,
    idempotency_key: str,
    satisfaction: Satisfaction,
    note: str | None = None,
    attachments: Sequence[str] = (),
    clock: Clock | None = None,
) -> Case:
    """The reporting grid closes the case with the resident's rating (满意/基本满意/不满意)."""
    rating = Satisfaction(satisfaction)

    async def apply(move: Move) -> None:
        move.case.satisfaction = rating
        move.satisfaction = rating

    return await act(
        session, actor=actor, case_id=case_id, action=CaseAction.CLOSE,
        expected_version=expected_version, idempotency_key=idempotency_key, note=note,
        attachments=attachments, clock=clock, extra={"satisfaction": rating}, apply=apply,
    )  # fmt: skip


async def reopen_case(
    session: AsyncSession,
    *,
    actor: Actor,
    case_id: str,
    expected_version: int,
    idempotency_key: str,
    note: str | None = None,
    attachments: Sequence[str] = (),
    clock: Clock | None = None,
) -> Case:
    """Back to the grid that resolved it, within the reopen window after verifying or closing."""

    async def apply(move: Move) -> None:
        closes = move.deadlines.reopen_closes_at(move.case.state_since)
        if move.now > closes:
            raise InvalidTransitionError(
                f"case {move.case.id} has been {move.case.state} since "
                f"{move.case.state_since:%Y-%m-%d}; it could be reopened until "
                f"{closes:%Y-%m-%d}: report a new case instead",
                state=str(move.case.state),
                action=str(CaseAction.REOPEN),
                allowed=[],
            )
        move.case.satisfaction = None

    return await act(
        session, actor=actor, case_id=case_id, action=CaseAction.REOPEN,
        expected_version=expected_version, idempotency_key=idempotency_key, note=note,
        attachments=attachments, clock=clock, extra={}, apply=apply,
    )  # fmt: skip


async def _assign_posts(session: AsyncSession, move: Move, member_ids: Sequence[int]) -> None:
    if not member_ids:
        return
    grid = move.case.holding_grid_code
    found = set(
        await session.scalars(
            select(GridMember.id).where(GridMember.id.in_(member_ids), GridMember.grid_code == grid)
        )
    )
    missing = [member for member in member_ids if member not in found]
    if missing:
        raise BadInputError(
            f"member {missing[0]} is not on the responsibility board of grid {grid}, "
            "which holds the case; pick posts from that board",
            field="postMemberIds",
        )
    move.assignments.extend(
        CaseAssignment(
            case_id=move.case.id, kind=AssignmentKind.POST, member_id=member,
            trace_seq=move.seq, assigned_at=move.now,
        )
        for member in member_ids
    )  # fmt: skip


async def _parent(session: AsyncSession, case: Case) -> Grid:
    holding = await load_grid(session, case.holding_grid_code)
    if holding.parent_code is None:  # the table forbids this; the tree must agree
        raise InvalidTransitionError(
            f"grid {holding.code} has no parent grid; assign the case to departments instead"
        )
    return await load_grid(session, holding.parent_code)
