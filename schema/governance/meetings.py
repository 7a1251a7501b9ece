"""Joint meetings (联席会议): member units settle cases together; `recordJointMeeting`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from strawberry import federation

from hub.governance import loading, meetings
from hub.governance.meetings import Participant
from schema.context import Info
from schema.enums import Department
from schema.governance.cases import Case
from schema.governance.common import CASES_WRITE, check_aware, check_key, check_keys, write
from schema.governance.enums import ParticipantKind
from schema.grid import GRIDS, Grid
from schema.loads import Batch, Load, loaded

PARTICIPANTS = Batch(
    "meeting_participants", lambda c, ids, _: loading.participants_by_meeting(c, ids)
)
SETTLED = Batch(
    "meeting_cases",
    lambda c, ids, scope: loading.settled_by_meeting(c, ids, within_path=scope.within_path),
)


@strawberry.type(
    description="A member unit at a joint meeting: a grid, a department, or another unit."
)
class MeetingParticipant:
    kind: ParticipantKind
    grid_code: str | None
    department: Department | None
    unit_name: str | None = strawberry.field(description="An outside unit: 物业, 供电所, 派出所 …")

    @classmethod
    def from_row(cls, row: Any) -> MeetingParticipant:
        return cls(
            kind=row.kind, grid_code=row.grid_code, department=row.department,
            unit_name=row.unit_name,
        )  # fmt: skip


@strawberry.input(
    description="A member unit: kind GRID with gridCode, DEPARTMENT with department, OUTSIDE_UNIT with unitName."
)
class ParticipantInput:
    kind: ParticipantKind
    grid_code: strawberry.ID | None = None
    department: Department | None = None
    unit_name: str | None = None

    def to_participant(self) -> Participant:
        code = check_key(str(self.grid_code), "participants.gridCode") if self.grid_code else None
        return Participant(
            self.kind, grid_code=code, department=self.department, unit_name=self.unit_name
        )


@strawberry.type(description="A joint meeting (联席会议) convened by one grid.")
class JointMeeting:
    id: strawberry.ID
    held_at: datetime
    held_on: date = strawberry.field(description="The civil day in China.")
    topic: str
    decisions: str
    recorded_by: str
    recorded_at: datetime
    grid_code: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Any) -> JointMeeting:
        return cls(
            id=strawberry.ID(row.id), held_at=row.held_at, held_on=row.held_on, topic=row.topic,
            decisions=row.decisions, recorded_by=row.recorded_by, recorded_at=row.recorded_at,
            grid_code=row.grid_code,
        )  # fmt: skip

    grid: Grid | None = loaded(
        Load(GRIDS, key="grid_code", convert=Grid.from_row),
        graphql_type=Grid | None,
        description="The grid that convened it.",
    )
    participants: list[MeetingParticipant] = loaded(
        Load(PARTICIPANTS, key="id", convert=MeetingParticipant.from_row),
        graphql_type=list[MeetingParticipant],
    )
    settled_cases: list[Case] = loaded(
        Load(SETTLED, key="id", convert=Case.from_row),
        graphql_type=list[Case],
        description="The cases it settled (each still moved by its own transitions).",
    )


@strawberry.type
class MeetingMutation:
    @federation.field(
        requires_scopes=CASES_WRITE,
        description=(
            "Record a joint meeting convened by a grid of your subtree (the dispatcher: any), "
            "with 2 to 50 member units and the cases it settled (within your reach). "
            "Idempotent under `idempotencyKey`."
        ),
    )
    async def record_joint_meeting(
        self,
        info: Info,
        idempotency_key: str,
        grid: strawberry.ID,
        held_at: Annotated[datetime, strawberry.argument(description="With its time zone.")],
        topic: str,
        decisions: str,
        participants: list[ParticipantInput],
        settled_case_ids: list[strawberry.ID] | None = None,
    ) -> JointMeeting | None:
        code, when = check_key(str(grid), "grid"), check_aware(held_at, "heldAt")
        units = [participant.to_participant() for participant in participants]
        settled = check_keys(settled_case_ids, "settledCaseIds")
        meeting = await write(
            info,
            lambda session, actor: meetings.record_joint_meeting(
                session, actor=actor, idempotency_key=idempotency_key, grid_code=code,
                held_at=when, topic=topic, decisions=decisions, participants=units,
                settled_case_ids=settled,
            ),
        )  # fmt: skip
        return JointMeeting.from_row(meeting)
