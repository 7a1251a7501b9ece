"""Grid governance: cases and their traces, assignments, home visits, patrols, joint meetings.

A case carries two grids: the reporting grid (`grid_code`/`grid_path`, fixed, the one that
verifies and the one every case KPI is attributed to) and the holding grid (`holding_*`,
which climbs one level per escalation). `due_at` is the deadline of the case's current stage;
whether it is overdue is derived from it and the clock, never stored. Every transition
appends a `CaseTrace` with the deadline it set and the one it answered, so missed deadlines
can be counted later.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.governance.enums import (
    AssignmentKind,
    CaseAction,
    CaseCategory,
    CaseSource,
    CaseState,
    CaseSubtype,
    ParticipantKind,
    Satisfaction,
)
from hub.storage.base import Base, UtcDateTime, enum_type, path_type, utcnow
from hub.vocabulary import Department, GridLevel

_BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class Case(Base):
    """An event or appeal (事件/诉求), handled in its grid or escalated level by level."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    category: Mapped[CaseCategory] = mapped_column(enum_type(CaseCategory))
    subtype: Mapped[CaseSubtype] = mapped_column(enum_type(CaseSubtype))
    group_appeal: Mapped[bool] = mapped_column(Boolean, default=False)  # 群体诉求
    petition_beyond_district: Mapped[bool] = mapped_column(Boolean, default=False)  # 越级上访
    mass_incident: Mapped[bool] = mapped_column(Boolean, default=False)  # 群体性事件
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(255))
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"))
    grid_path: Mapped[str] = mapped_column(path_type())
    holding_grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"))
    holding_grid_path: Mapped[str] = mapped_column(path_type())
    holding_level: Mapped[GridLevel] = mapped_column(enum_type(GridLevel))
    state: Mapped[CaseState] = mapped_column(enum_type(CaseState))
    state_since: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    satisfaction: Mapped[Satisfaction | None] = mapped_column(enum_type(Satisfaction))
    source: Mapped[CaseSource] = mapped_column(enum_type(CaseSource))
    source_record_id: Mapped[str | None] = mapped_column(String(128))
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reported_by: Mapped[str] = mapped_column(String(255))
    reporter_role: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own dict
    __table_args__ = (
        UniqueConstraint("source", "source_record_id"),
        Index("ix_cases_grid_path_state", "grid_path", "state"),
        Index("ix_cases_holding_grid_path_state", "holding_grid_path", "state"),
        Index("ix_cases_due_at", "due_at"),
        Index("ix_cases_reported_at", "reported_at"),
        Index("ix_cases_grid_code_reported_at", "grid_code", "reported_at"),
    )


class CaseTrace(Base):
    """One transition of one case (留痕): who, in which role and grid, when, what, and why."""

    __tablename__ = "case_traces"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1, 2, 3 … per case
    action: Mapped[CaseAction] = mapped_column(enum_type(CaseAction))
    from_state: Mapped[CaseState | None] = mapped_column(enum_type(CaseState, name="from_state"))
    to_state: Mapped[CaseState] = mapped_column(enum_type(CaseState))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(255))
    actor_role: Mapped[str] = mapped_column(String(64))
    actor_grid_code: Mapped[str | None] = mapped_column(ForeignKey("grids.code"))
    actor_department: Mapped[Department | None] = mapped_column(enum_type(Department))
    holding_grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # deadline this move set
    # The deadline in force when the move was made (the one it answered): a move after it was
    # late, which the overdue KPIs count without pairing each trace with its predecessor.
    prior_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    satisfaction: Mapped[Satisfaction | None] = mapped_column(enum_type(Satisfaction))
    note: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[str]] = mapped_column(JSON)  # SHA-256 hex digests

    __table_args__ = (
        Index("ix_case_traces_at", "at"),
        Index(
            "ix_case_traces_late_moves",
            "prior_due_at",
            postgresql_where=text("at > prior_due_at"),
            sqlite_where=text("at > prior_due_at"),
        ),
        Index("ix_case_traces_actor_grid_code_at", "actor_grid_code", "at"),
    )


class CaseResident(Base):
    __tablename__ = "case_residents"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    resident_id: Mapped[str] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CaseHousehold(Base):
    __tablename__ = "case_households"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    household_id: Mapped[str] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CaseAssignment(Base):
    """A case given to a post on the holding grid's board, or to a department."""

    __tablename__ = "case_assignments"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AssignmentKind] = mapped_column(enum_type(AssignmentKind))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("grid_members.id"))
    department: Mapped[Department | None] = mapped_column(enum_type(Department))
    trace_seq: Mapped[int] = mapped_column(Integer)  # the ACCEPT or ASSIGN that made it
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        ForeignKeyConstraint(
            ["case_id", "trace_seq"], ["case_traces.case_id", "case_traces.seq"], ondelete="CASCADE"
        ),
        CheckConstraint(
            "(kind = 'POST' AND member_id IS NOT NULL AND department IS NULL)"
            " OR (kind = 'DEPARTMENT' AND department IS NOT NULL AND member_id IS NULL)",
            name="post_or_department",
        ),
        Index("ix_case_assignments_department_case_id", "department", "case_id"),
    )


class Visit(Base):
    """A home visit (入户走访) to one household."""

    __tablename__ = "visits"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"))
    grid_path: Mapped[str] = mapped_column(path_type())
    visitor: Mapped[str] = mapped_column(String(255))
    visitor_name: Mapped[str | None] = mapped_column(String(64))
    visited_at: Mapped[datetime] = mapped_column(UtcDateTime())
    visited_on: Mapped[date] = mapped_column(Date)  # the civil day in China
    findings: Mapped[str | None] = mapped_column(Text)
    follow_up_case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_visits_household_id_visited_on", "household_id", "visited_on"),
        Index("ix_visits_visited_on_grid_code", "visited_on", "grid_code"),
        Index("ix_visits_grid_path_visited_on", "grid_path", "visited_on"),
    )


class VisitResident(Base):
    __tablename__ = "visit_residents"

    visit_id: Mapped[str] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True
    )
    resident_id: Mapped[str] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Patrol(Base):
    """One walk of a grid by its responsible person (日常巡查)."""

    __tablename__ = "patrols"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"))
    grid_path: Mapped[str] = mapped_column(path_type())
    walker: Mapped[str] = mapped_column(String(255))
    walker_name: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime())
    day: Mapped[date] = mapped_column(Date)  # the civil day in China the walk started
    route_notes: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("ended_at >= started_at", name="ends_after_start"),
        Index("ix_patrols_grid_code_day", "grid_code", "day"),
        Index("ix_patrols_day", "day"),
    )


class PatrolFinding(Base):
    """A problem found on a patrol that became a case."""

    __tablename__ = "patrol_findings"

    patrol_id: Mapped[str] = mapped_column(
        ForeignKey("patrols.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class JointMeeting(Base):
    """A joint meeting (联席会议) of member units, convened by one grid."""

    __tablename__ = "joint_meetings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"))
    grid_path: Mapped[str] = mapped_column(path_type())
    held_at: Mapped[datetime] = mapped_column(UtcDateTime())
    held_on: Mapped[date] = mapped_column(Date)
    topic: Mapped[str] = mapped_column(String(255))
    decisions: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_joint_meetings_grid_code_held_on", "grid_code", "held_on"),
        Index("ix_joint_meetings_grid_path_held_on", "grid_path", "held_on"),
    )


class JointMeetingParticipant(Base):
    """A member unit at a joint meeting: a grid, a department or an outside unit."""

    __tablename__ = "joint_meeting_participants"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    meeting_id: Mapped[str] = mapped_column(
        ForeignKey("joint_meetings.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ParticipantKind] = mapped_column(enum_type(ParticipantKind))
    grid_code: Mapped[str | None] = mapped_column(ForeignKey("grids.code"))
    department: Mapped[Department | None] = mapped_column(enum_type(Department))
    unit_name: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        CheckConstraint(
            "(kind = 'GRID' AND grid_code IS NOT NULL)"
            " OR (kind = 'DEPARTMENT' AND department IS NOT NULL)"
            " OR (kind = 'OUTSIDE_UNIT' AND unit_name IS NOT NULL)",
            name="names_its_unit",
        ),
    )


class JointMeetingCase(Base):
    """A case a joint meeting settled."""

    __tablename__ = "joint_meeting_cases"

    meeting_id: Mapped[str] = mapped_column(
        ForeignKey("joint_meetings.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class IdempotencyKey(Base):
    """A client-supplied key per caller → what the first call produced, so a retry repeats it."""

    __tablename__ = "idempotency_keys"

    caller: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the arguments
    result: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
