"""Joint meetings (联席会议): member units — grids, departments, outside units — settle cases.

Session first, keyword-only after; flush, never commit (the caller owns the transaction and
rolls it back when a function raises). `record_joint_meeting` is idempotent under the key.
A meeting records which cases it settled; moving those cases on is still each case's own
transition (the holding grid resolves them, citing the meeting in its note).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError, NotFoundError
from hub.governance import idempotency, permissions
from hub.governance.cases import get_case
from hub.governance.deadlines import Clock
from hub.governance.drafts import check_text
from hub.governance.enums import ParticipantKind
from hub.governance.fieldwork import check_past, civil_day, grid_within, replayed
from hub.governance.permissions import Actor
from hub.storage.models import Grid, JointMeeting, JointMeetingCase, JointMeetingParticipant
from hub.vocabulary import Department

MAX_PARTICIPANTS = 50
MAX_SETTLED = 100


@dataclass(frozen=True, slots=True)
class Participant:
    """A member unit: a grid (`grid_code`), a department, or an outside unit (`unit_name`)."""

    kind: ParticipantKind
    grid_code: str | None = None
    department: Department | None = None
    unit_name: str | None = None


async def record_joint_meeting(
    session: AsyncSession,
    *,
    actor: Actor,
    idempotency_key: str,
    grid_code: str,
    held_at: datetime,
    topic: str,
    decisions: str,
    participants: Sequence[Participant],
    settled_case_ids: Sequence[str] = (),
    clock: Clock | None = None,
) -> JointMeeting:
    """Record a meeting convened by a grid in the actor's subtree (the dispatcher: any)."""
    clock = clock or Clock()
    settled = tuple(dict.fromkeys(settled_case_ids))
    arguments = {
        "grid_code": grid_code, "held_at": held_at.isoformat(), "topic": topic,
        "decisions": decisions, "participants": [asdict(p) for p in participants],
        "settled_case_ids": settled,
    }  # fmt: skip
    permissions.require_scope(actor, permissions.CASES_WRITE, "recording a joint meeting")
    replay = await idempotency.claim(
        session, caller=actor.principal, key=idempotency_key, operation="recordJointMeeting",
        arguments=arguments, now=clock.now,
    )  # fmt: skip
    if replay is not None:
        return await replayed(session, JointMeeting, replay["meeting_id"])
    grid = await grid_within(session, grid_code)
    permissions.require_meeting(actor, grid_code=grid.code, grid_path=grid.path)
    check_past(held_at, "held_at", clock.now)
    units = await _check_participants(session, participants)
    await _check_settled(session, actor, settled)
    meeting = JointMeeting(
        id=str(uuid.uuid4()), grid_code=grid.code, grid_path=grid.path, held_at=held_at,
        held_on=civil_day(held_at), topic=check_text(topic, "topic", 255),
        decisions=check_text(decisions, "decisions", 8000), recorded_by=actor.principal,
        recorded_at=clock.now,
    )  # fmt: skip
    session.add(meeting)
    await session.flush()
    session.add_all(
        JointMeetingParticipant(meeting_id=meeting.id, **asdict(unit)) for unit in units
    )
    session.add_all(JointMeetingCase(meeting_id=meeting.id, case_id=case) for case in settled)
    await session.flush()
    await idempotency.remember(
        session, caller=actor.principal, key=idempotency_key, result={"meeting_id": meeting.id}
    )
    return meeting


async def meeting_participants(
    session: AsyncSession, *, meeting_id: str
) -> list[JointMeetingParticipant]:
    query = select(JointMeetingParticipant).where(JointMeetingParticipant.meeting_id == meeting_id)
    return list(await session.scalars(query.order_by(JointMeetingParticipant.id)))


async def _check_participants(
    session: AsyncSession, participants: Sequence[Participant]
) -> list[Participant]:
    units = list(dict.fromkeys(_normalised(p) for p in participants))
    if not 2 <= len(units) <= MAX_PARTICIPANTS:
        raise BadInputError(
            f"a joint meeting brings together 2 to {MAX_PARTICIPANTS} member units",
            field="participants",
        )
    codes = [unit.grid_code for unit in units if unit.grid_code is not None]
    known = set(await session.scalars(select(Grid.code).where(Grid.code.in_(codes))))
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise BadInputError(f"unknown participant grid {unknown[0]!r}", field="participants")
    return units


def _normalised(participant: Participant) -> Participant:
    kind = ParticipantKind(participant.kind)
    if kind is ParticipantKind.GRID and participant.grid_code:
        return Participant(kind, grid_code=participant.grid_code)
    if kind is ParticipantKind.DEPARTMENT and participant.department:
        return Participant(kind, department=Department(participant.department))
    if kind is ParticipantKind.OUTSIDE_UNIT and participant.unit_name:
        return Participant(kind, unit_name=check_text(participant.unit_name, "unit_name", 128))
    field = {"GRID": "grid_code", "DEPARTMENT": "department", "OUTSIDE_UNIT": "unit_name"}[kind]
    raise BadInputError(f"a {kind} participant needs its {field}", field="participants")


async def _check_settled(session: AsyncSession, actor: Actor, case_ids: Sequence[str]) -> None:
    if len(case_ids) > MAX_SETTLED:
        raise BadInputError(f"at most {MAX_SETTLED} settled cases", field="settledCaseIds")
    for case_id in case_ids:
        if await get_case(session, actor=actor, case_id=case_id) is None:
            raise NotFoundError(f"no case {case_id!r} within your reach", case_id=case_id)
