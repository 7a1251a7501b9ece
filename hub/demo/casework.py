"""Synthetic case histories for the demo month: each case lives through the real state machine.

`CaseMaker` turns a report (grid, time, source, what happened) into rows for `cases`,
`case_traces`, `case_assignments`, `case_residents` and `case_households`. Every move goes
through `hub.governance.states.transition` and every deadline through `Deadlines.due_after`,
so a generated history is one the services could have written; a few moves are late on
purpose (overdue KPIs), some cases climb to the district and go to departments, some are
reopened. Nothing happens after `cutoff`: a story stops where the month ends.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hub.governance.enums import (
    SUBTYPES,
    AssignmentKind,
    CaseAction,
    CaseCategory,
    CaseSource,
    CaseState,
    CaseSubtype,
    Satisfaction,
)
from hub.governance.permissions import DEPARTMENT_OF_ROLE
from hub.governance.states import INITIAL_STATE, transition
from hub.storage.models import Case, CaseAssignment, CaseHousehold, CaseResident, CaseTrace
from hub.vocabulary import Department, GridLevel

if TYPE_CHECKING:
    from hub.demo.records import Row
    from hub.demo.workworld import Site, WorkWorld
    from hub.governance.deadlines import Deadlines
    from hub.storage.base import Base

_D = Department
DEPARTMENTS_FOR: dict[CaseCategory, tuple[Department, ...]] = {
    CaseCategory.CITY_MANAGEMENT: (_D.POLICE,),
    CaseCategory.STABILITY: (_D.POLICE, _D.SOCIAL_SECURITY),
    CaseCategory.WORK_SAFETY: (_D.POLICE, _D.HEALTH),
    CaseCategory.LIVELIHOOD: (_D.SOCIAL_SECURITY, _D.HEALTH),
    CaseCategory.SOCIAL_SERVICES: (_D.SOCIAL_SECURITY, _D.HEALTH, _D.EDUCATION),
    CaseCategory.PARTY_BUILDING: (),  # the dispatcher settles these itself
}
SOLVED_AT: dict[GridLevel, float] = {
    GridLevel.BUILDING: 0.68,
    GridLevel.COMMUNITY: 0.55,
    GridLevel.STREET: 0.5,
}
"""The chance a level resolves what it holds rather than escalating it."""
LATE = 0.09
"""The chance any one move comes after its deadline."""
RATINGS = (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED, Satisfaction.DISSATISFIED)
_RATING_WEIGHTS = (68, 22, 10)
_APPEAL_RATING_WEIGHTS = (50, 30, 20)  # group appeals are harder to settle to everyone's liking
_DESCRIPTIONS: dict[CaseCategory, tuple[str, ...]] = {
    CaseCategory.CITY_MANAGEMENT: ("占道堆放杂物", "路灯损坏", "私搭乱建", "垃圾清运不及时"),
    CaseCategory.STABILITY: ("邻里因漏水发生纠纷", "物业费争议", "重点人员情绪波动", "欠薪讨要"),
    CaseCategory.WORK_SAFETY: ("楼道电动车飞线充电", "消防通道堵塞", "燃气管道老化", "工地围挡松动"),
    CaseCategory.LIVELIHOOD: ("电梯频繁故障", "冬季供暖不热", "夜间施工噪音", "自来水水压低"),
    CaseCategory.SOCIAL_SERVICES: ("独居老人需助餐", "残疾人补贴咨询", "低保申请协助", "留守儿童关爱"),
    CaseCategory.PARTY_BUILDING: ("党员志愿服务", "流动党员报到", "协商议事会", "党群活动场地"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Who:
    """An actor as a trace records it."""

    principal: str
    role: str
    grid_code: str | None = None
    department: Department | None = None


@dataclass(slots=True)
class Report:
    """What reaches the grid: where, when, how, about what, and who is involved."""

    grid: Site
    at: datetime
    source: CaseSource
    reporter: Who
    category: CaseCategory
    subtype: CaseSubtype
    group_appeal: bool = False
    petition: bool = False
    mass_incident: bool = False
    residents: tuple[str, ...] = ()
    households: tuple[str, ...] = ()
    source_record_id: str | None = None

    @property
    def reporting_worker(self) -> Who:
        """Who verifies, closes and reopens: the reporting grid's worker."""
        return grid_worker(self.grid.code)


@dataclass(slots=True)
class _Story:
    """A case being lived through, move by move, until it closes or the month ends."""

    case_id: str
    report: Report
    description: str
    state: CaseState
    holding: Site
    due_at: datetime | None
    now: datetime
    version: int = 1
    satisfaction: Satisfaction | None = None
    traces: list[Row] = field(default_factory=list)
    assignments: list[Row] = field(default_factory=list)
    over: bool = False

    def row(self) -> Row:
        """The `cases` row as the story left it."""
        report, grid = self.report, self.report.grid
        return {
            "id": self.case_id, "category": report.category, "subtype": report.subtype,
            "group_appeal": report.group_appeal, "petition_beyond_district": report.petition,
            "mass_incident": report.mass_incident, "description": self.description,
            "location": grid.name, "grid_code": grid.code, "grid_path": grid.path,
            "holding_grid_code": self.holding.code, "holding_grid_path": self.holding.path,
            "holding_level": self.holding.level, "state": self.state, "state_since": self.now,
            "due_at": self.due_at, "satisfaction": self.satisfaction, "source": report.source,
            "source_record_id": report.source_record_id, "reported_at": report.at,
            "reported_by": report.reporter.principal, "reporter_role": report.reporter.role,
            "version": self.version,
        }  # fmt: skip


class CaseMaker:
    """Writes whole case histories into `rows`, one shared RNG, one counter of cases."""

    def __init__(
        self,
        world: WorkWorld,
        rng: random.Random,
        deadlines: Deadlines,
        cutoff: datetime,
        rows: dict[type[Base], list[Row]],
    ) -> None:
        self.world = world
        self.rng = rng
        self.deadlines = deadlines
        self.cutoff = cutoff
        self.rows = rows
        self.made = 0

    # --- what to report ------------------------------------------------------------------------

    def topic(self) -> tuple[CaseCategory, CaseSubtype]:
        category = self.rng.choice(list(CaseCategory))
        return category, self.rng.choice(SUBTYPES[category])

    def flags(self) -> tuple[bool, bool, bool]:
        """group appeal, petition beyond the district, mass incident: rare, never absent.

        Every 37th case is a petition and every 53rd a mass incident, so even the small demo
        month has a few of each (their KPIs' target is zero, their demo value is not).
        """
        n = self.made + 1
        mass = n % 53 == 11
        return mass or self.rng.random() < 0.12, n % 37 == 5, mass

    # --- one case, start to finish -------------------------------------------------------------

    def make(self, report: Report) -> str:
        """Create the case and live its story up to the cutoff; returns the case id."""
        self.made += 1
        story = self._open(report)
        self._live(story, report)
        self._store(story, report)
        return story.case_id

    def _open(self, report: Report) -> _Story:
        grid, at = report.grid, report.at
        due = self.deadlines.due_after(
            from_state=None, to_state=INITIAL_STATE, level=grid.level, at=at, current_due=None
        )
        story = _Story(
            case_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            report=report,
            description=self.rng.choice(_DESCRIPTIONS[report.category]),
            state=INITIAL_STATE,
            holding=grid,
            due_at=due,
            now=at,
        )
        story.traces.append(
            self._trace(story, CaseAction.REPORT, None, report.reporter, at, note=None)
        )
        return story

    def _live(self, story: _Story, report: Report) -> None:
        self._handle(story, report)
        if story.over:
            return
        rating = self._verify_and_close(story, report)
        if story.over or rating is not Satisfaction.DISSATISFIED or self.rng.random() > 0.4:
            return
        self._step(story, CaseAction.REOPEN, report.reporting_worker, days=(1, 6))
        self._handle(story, report)
        if not story.over:
            self._verify_and_close(story, report)

    def _handle(self, story: _Story, report: Report) -> None:
        """Accepted where it waits; resolved there, or escalated up to the departments."""
        resists = 0.6 if report.group_appeal else 1.0
        while not story.over:
            level = story.holding.level
            holder = self.holder(story.holding.code, level)
            if level is GridLevel.DISTRICT:
                self._at_district(story, report, holder)
                return
            self._accept(story, holder)
            if report.mass_incident or self.rng.random() > SOLVED_AT[level] * resists:
                self._step(story, CaseAction.ESCALATE, holder, days=(0.1, 1.0), late_ok=False)
            else:
                self._step(story, CaseAction.RESOLVE, holder, days=(0.2, 2.5), photos=True)
                return

    def _at_district(self, story: _Story, report: Report, dispatcher: Who) -> None:
        departments = DEPARTMENTS_FOR[report.category]
        direct = departments and story.state is CaseState.ESCALATED and self.rng.random() < 0.5
        if not direct:  # the dispatcher may assign an escalated case without accepting it first
            self._accept(story, dispatcher)
        if not departments:
            self._step(story, CaseAction.RESOLVE, dispatcher, days=(1, 8))
            return
        chosen = self.rng.sample(departments, k=min(len(departments), self.rng.choice((1, 1, 2))))
        self._step(story, CaseAction.ASSIGN, dispatcher, days=(0.05, 0.5), assign=chosen[:1])
        if len(chosen) > 1:
            self._step(story, CaseAction.ASSIGN, dispatcher, days=(0.1, 1), assign=chosen[1:])
        officer = self.officer(self.rng.choice(chosen))
        self._step(story, CaseAction.RESOLVE, officer, days=(1, 10), photos=True)

    def _verify_and_close(self, story: _Story, report: Report) -> Satisfaction | None:
        worker = report.reporting_worker
        self._step(story, CaseAction.VERIFY, worker, days=(0.2, 2))
        weights = _APPEAL_RATING_WEIGHTS if report.group_appeal else _RATING_WEIGHTS
        rating = self.rng.choices(RATINGS, weights)[0]
        self._step(story, CaseAction.CLOSE, worker, days=(0.1, 1.5), rating=rating)
        return None if story.over else rating

    def _accept(self, story: _Story, holder: Who) -> None:
        level = story.holding.level
        hours = self.deadlines.levels[level].accept.total_seconds() / 3600
        post = self._post(story) if level is GridLevel.BUILDING else None
        self._step(story, CaseAction.ACCEPT, holder, days=(0.05 * hours / 24, 0.9 * hours / 24),
                   late=(1.1 * hours / 24, 3 * hours / 24), post=post)  # fmt: skip

    # --- one move ------------------------------------------------------------------------------

    def _step(
        self,
        story: _Story,
        action: CaseAction,
        who: Who,
        *,
        days: tuple[float, float],
        late: tuple[float, float] | None = None,
        late_ok: bool = True,
        photos: bool = False,
        assign: list[Department] | None = None,
        rating: Satisfaction | None = None,
        post: int | None = None,
    ) -> None:
        """Make one move after a delay (sometimes past the deadline); stop at the cutoff."""
        if story.over:
            return
        at = story.now + self._delay(story, days, late, may_be_late=late_ok)
        if at >= self.cutoff:
            story.over = True
            return
        previous, answered = story.state, story.due_at
        rule = transition(previous, action, held_at=story.holding.level)
        if action is CaseAction.ESCALATE:
            story.holding = self.world.grids[str(story.holding.parent_code)]
        story.due_at = self.deadlines.due_after(
            from_state=previous, to_state=rule.next_state, level=story.holding.level, at=at,
            current_due=story.due_at,
        )  # fmt: skip
        story.state, story.now, story.version = rule.next_state, at, story.version + 1
        if action in (CaseAction.CLOSE, CaseAction.REOPEN):
            story.satisfaction = rating
        note = "联席会议议定" if action is CaseAction.RESOLVE and self.rng.random() < 0.1 else None
        trace = self._trace(story, action, previous, who, at, note=note, rating=rating,
                            photos=photos and self.rng.random() < 0.4, answered=answered)  # fmt: skip
        story.traces.append(trace)
        for department in assign or ():
            story.assignments.append(self._assignment(story, trace, department=department))
        if post is not None:
            story.assignments.append(self._assignment(story, trace, member=post))

    def _delay(
        self,
        story: _Story,
        days: tuple[float, float],
        late: tuple[float, float] | None,
        *,
        may_be_late: bool,
    ) -> timedelta:
        """A delay within `days`, before the deadline; with chance LATE after it instead."""
        due = story.due_at
        if late is None and due is not None:
            allowed = (due - story.now).total_seconds() / 86400
            late = (allowed * 1.05 + 0.01, allowed * 2.5 + 0.02)
        if may_be_late and late is not None and self.rng.random() < LATE:
            return timedelta(days=self.rng.uniform(*late))
        low, high = days
        if due is not None:
            high = min(high, 0.95 * (due - story.now).total_seconds() / 86400)
            low = min(low, high)
        return timedelta(days=self.rng.uniform(low, high))

    def _trace(
        self,
        story: _Story,
        action: CaseAction,
        previous: CaseState | None,
        who: Who,
        at: datetime,
        *,
        note: str | None,
        rating: Satisfaction | None = None,
        photos: bool = False,
        answered: datetime | None = None,
    ) -> Row:
        seq = len(story.traces) + 1
        case_id = story.case_id
        digest = hashlib.sha256(f"{case_id}:{seq}".encode()).hexdigest()
        return {
            "case_id": case_id, "seq": seq, "action": action, "from_state": previous,
            "to_state": story.state, "at": at, "actor": who.principal,
            "actor_role": who.role, "actor_grid_code": who.grid_code,
            "actor_department": who.department,
            "holding_grid_code": story.holding.code, "due_at": story.due_at,
            "prior_due_at": answered,
            "satisfaction": rating, "note": note, "attachments": [digest] if photos else [],
        }  # fmt: skip

    def _assignment(
        self,
        story: _Story,
        trace: Row,
        *,
        department: Department | None = None,
        member: int | None = None,
    ) -> Row:
        return {
            "case_id": story.case_id,
            "kind": AssignmentKind.DEPARTMENT if department else AssignmentKind.POST,
            "member_id": member,
            "department": department,
            "trace_seq": trace["seq"],
            "assigned_at": trace["at"],
        }

    def _post(self, story: _Story) -> int | None:
        board = self.world.members.get(story.holding.code, [])
        return self.rng.choice(board)[0] if board and self.rng.random() < 0.7 else None

    def _store(self, story: _Story, report: Report) -> None:
        case_id = story.case_id
        self.rows[Case].append(story.row())
        self.rows[CaseTrace].extend(story.traces)
        self.rows[CaseAssignment].extend(story.assignments)
        self.rows[CaseResident].extend(
            {"case_id": case_id, "resident_id": r} for r in report.residents
        )
        self.rows[CaseHousehold].extend(
            {"case_id": case_id, "household_id": h} for h in report.households
        )

    # --- who acts ------------------------------------------------------------------------------

    def holder(self, grid_code: str, level: GridLevel) -> Who:
        if level is GridLevel.DISTRICT:
            return Who("demo:district_dispatcher", "district_dispatcher", grid_code)
        return grid_worker(grid_code)

    @staticmethod
    def officer(department: Department) -> Who:
        role = OFFICER_ROLES[department]
        return Who(f"demo:{role}", role, None, department)


OFFICER_ROLES = {department: role for role, department in DEPARTMENT_OF_ROLE.items()}
"""The role whose officers act for each department (the inverse of the one mapping)."""


def grid_worker(grid_code: str) -> Who:
    return Who(f"demo:grid_worker:{grid_code}", "grid_worker", grid_code)
