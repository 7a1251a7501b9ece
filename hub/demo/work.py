"""A month of the district's own work: patrols, home visits, cases of every kind, joint meetings.

`generate_month` is deterministic in (the stored district, seed, period): it walks streets
and communities in code order with one seeded RNG and yields the rows of one community (or
street) at a time, so memory stays flat at Jinshui scale. Every case history goes through
the real state machine and deadlines (`hub.demo.casework`). `seed_month_of_work` writes it
with Core executemany in batches, one transaction per batch.

What a month holds, per building grid: a walk on most days (each grid has its own
diligence), visits to about four in ten households (a few twice), and a handful of cases —
reported by its worker, found on patrols and visits, phoned in to the 12345 hotline, brought
to the street's service counter. Communities and streets report a few cases of their own and
hold joint meetings with departments and outside units.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select

from hub.demo.casework import CaseMaker, Report, Who, grid_worker
from hub.demo.workworld import Site, WorkWorld, load_world
from hub.governance.deadlines import Deadlines, default_deadlines
from hub.governance.enums import CaseSource, ParticipantKind
from hub.governance.fieldwork import civil_day
from hub.governance.periods import Period, start_of_day
from hub.storage.models import (
    Case,
    CaseAssignment,
    CaseHousehold,
    CaseResident,
    CaseTrace,
    JointMeeting,
    JointMeetingCase,
    JointMeetingParticipant,
    Patrol,
    PatrolFinding,
    Visit,
    VisitResident,
)
from hub.vocabulary import Department

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.demo.records import Row
    from hub.storage.base import Base

MONTH = Period.month(2026, 8)
"""The demo month: the last full month before the population's AS_OF (1 September 2026)."""

WORK_TABLES: tuple[type[Base], ...] = (
    Case,
    CaseTrace,
    CaseResident,
    CaseHousehold,
    CaseAssignment,
    Visit,
    VisitResident,
    Patrol,
    PatrolFinding,
    JointMeeting,
    JointMeetingParticipant,
    JointMeetingCase,
)
"""Every table the month fills, parents before children."""

HOTLINE = Who("connector:hotline", "connector")
OUTSIDE_UNITS = (
    "物业服务中心",
    "供电营业所",
    "辖区派出所",
    "社区卫生服务中心",
    "燃气公司",
    "中心小学",
)
_FINDINGS = (
    "家中一切正常",
    "老人身体状况良好",
    "反映楼道照明不足",
    "需协助办理医保",
    "子女长期在外",
)
_VISITS_PER_HOUSEHOLD = (0, 1, 2)
_VISIT_WEIGHTS = (58, 36, 6)


class WorkSeedError(RuntimeError):
    """The month cannot be seeded (no district yet, or it already holds case work)."""


@dataclass(frozen=True, slots=True)
class WorkSummary:
    counts: dict[str, int]
    elapsed_seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def empty_rows() -> dict[type[Base], list[Row]]:
    return {model: [] for model in WORK_TABLES}


class MonthOfWork:
    """Stateful generator behind `generate_month`; one instance per run."""

    def __init__(
        self, world: WorkWorld, *, seed: int, period: Period, deadlines: Deadlines
    ) -> None:
        self.world = world
        self.period = period
        self.rng = random.Random(f"work:{seed}")
        self.cutoff = period.end_at
        self.deadlines = deadlines
        self.hotline_calls = 0
        self.rows = empty_rows()
        self.cases = CaseMaker(world, self.rng, deadlines, self.cutoff, self.rows)
        self.reported: list[tuple[str, str, datetime]] = []  # this unit's (id, path, time)

    def run(self) -> Iterator[dict[type[Base], list[Row]]]:
        for street in self.world.below(self.world.district.code):
            for community in self.world.below(street.code):
                for building in self.world.below(community.code):
                    self.building(street, building)
                for _ in range(self.rng.randint(1, 2)):
                    self.case(community, self.rng.choice((CaseSource.GRID, CaseSource.VISIT)))
                self.meetings(community, units=self.world.below(community.code), count=2)
                yield self._take()
            if self.rng.random() < 0.7:
                self.case(street, CaseSource.GRID)
            self.meetings(street, units=self.world.below(street.code), count=1)
            yield self._take()

    def _take(self) -> dict[type[Base], list[Row]]:
        rows, self.rows = self.rows, empty_rows()
        self.cases.rows = self.rows
        self.reported = []
        return rows

    # --- one building grid ---------------------------------------------------------------------

    def building(self, street: Site, building: Site) -> None:
        self.patrols(building)
        for household in self.world.households.get(building.code, []):
            weight = self.rng.choices(_VISITS_PER_HOUSEHOLD, _VISIT_WEIGHTS)[0]
            for _ in range(weight):
                self.visit(building, household)
        for _ in range(self.rng.choices((0, 1, 2, 3), (30, 40, 22, 8))[0]):
            self.case(building, CaseSource.GRID)
        if self.rng.random() < 0.55:
            self.case(building, CaseSource.HOTLINE)
        if self.rng.random() < 0.2:
            clerk = Who(f"demo:service_center_clerk:{street.code}", "service_center_clerk",
                        street.code)  # fmt: skip
            self.case(building, CaseSource.SERVICE_CENTER, reporter=clerk)

    def patrols(self, building: Site) -> None:
        diligence = self.rng.uniform(0.8, 1.0)
        for day in self._days():
            if self.rng.random() > diligence:
                continue
            start = start_of_day(day) + timedelta(hours=self.rng.uniform(7.5, 10))
            end = start + timedelta(minutes=self.rng.randint(25, 120))
            if end >= self.cutoff:
                continue
            patrol_id = self._uuid()
            self.rows[Patrol].append({
                "id": patrol_id, "grid_code": building.code, "grid_path": building.path,
                "walker": grid_worker(building.code).principal, "walker_name": self._name(building),
                "started_at": start, "ended_at": end, "day": civil_day(start),
                "route_notes": "楼栋、地下车库、消防通道", "recorded_at": end,
            })  # fmt: skip
            if self.rng.random() < 0.05:
                case_id = self.case(building, CaseSource.PATROL, at=end)
                self.rows[PatrolFinding].append({"patrol_id": patrol_id, "case_id": case_id})

    def visit(self, building: Site, household: str) -> None:
        at = self._moment(hours=(9, 19))
        people = self.world.residents.get(household, [])
        met = self.rng.sample(people, k=self.rng.randint(1, len(people))) if people else []
        follow_up = None
        if self.rng.random() < 0.06:
            follow_up = self.case(building, CaseSource.VISIT, at=at, household=household)
        visit_id = self._uuid()
        self.rows[Visit].append({
            "id": visit_id, "household_id": household, "grid_code": building.code,
            "grid_path": building.path, "visitor": grid_worker(building.code).principal,
            "visitor_name": self._name(building), "visited_at": at, "visited_on": civil_day(at),
            "findings": self.rng.choice(_FINDINGS), "follow_up_case_id": follow_up,
            "recorded_at": at,
        })  # fmt: skip
        self.rows[VisitResident].extend({"visit_id": visit_id, "resident_id": r} for r in met)

    # --- cases ---------------------------------------------------------------------------------

    def case(
        self,
        grid: Site,
        source: CaseSource,
        *,
        at: datetime | None = None,
        household: str | None = None,
        reporter: Who | None = None,
    ) -> str:
        category, subtype = self.cases.topic()
        group, petition, mass = self.cases.flags()
        households = self._households(grid, household, many=group)
        residents = tuple(
            r for h in households for r in self.world.residents.get(h, [])[: 1 + group]
        )
        record_id = None
        if source is CaseSource.HOTLINE:
            self.hotline_calls += 1
            record_id = f"12345-{self.hotline_calls:08d}"
        report = Report(
            grid=grid, at=at or self._moment(hours=(8, 20)), source=source,
            reporter=reporter or (HOTLINE if source is CaseSource.HOTLINE else grid_worker(grid.code)),
            category=category, subtype=subtype, group_appeal=group, petition=petition,
            mass_incident=mass, residents=residents, households=households,
            source_record_id=record_id,
        )  # fmt: skip
        case_id = self.cases.make(report)
        self.reported.append((case_id, grid.path, report.at))
        return case_id

    def _households(self, grid: Site, household: str | None, *, many: bool) -> tuple[str, ...]:
        if household is not None:
            return (household,)
        pool = self.world.households.get(grid.code, [])
        if not pool:
            return ()
        return tuple(self.rng.sample(pool, k=min(len(pool), self.rng.randint(2, 5) if many else 1)))

    # --- joint meetings ------------------------------------------------------------------------

    def meetings(self, grid: Site, *, units: list[Site], count: int) -> None:
        held_here = [(case, at) for case, path, at in self.reported if path.startswith(grid.path)]
        for _ in range(count):
            held_at = self._moment(hours=(14, 17))
            meeting_id = self._uuid()
            self.rows[JointMeeting].append({
                "id": meeting_id, "grid_code": grid.code, "grid_path": grid.path,
                "held_at": held_at, "held_on": civil_day(held_at),
                "topic": self.rng.choice(("月度联席会议", "群体诉求化解", "安全隐患整治")),
                "decisions": "明确责任单位与办结时限", "recorded_by": grid_worker(grid.code).principal,
                "recorded_at": held_at,
            })  # fmt: skip
            members = [("GRID", grid.code)]
            members += [
                ("GRID", unit.code) for unit in self.rng.sample(units, k=min(2, len(units)))
            ]
            members += [("DEPARTMENT", self.rng.choice(list(Department)))]
            members += [("OUTSIDE_UNIT", self.rng.choice(OUTSIDE_UNITS))]
            self.rows[JointMeetingParticipant].extend(
                self._participant(meeting_id, kind, value) for kind, value in members
            )
            earlier = [case for case, at in held_here if at < held_at]
            settled = self.rng.sample(earlier, k=min(len(earlier), self.rng.randint(0, 3)))
            self.rows[JointMeetingCase].extend(
                {"meeting_id": meeting_id, "case_id": case_id} for case_id in settled
            )

    @staticmethod
    def _participant(meeting_id: str, kind: str, value: object) -> Row:
        return {
            "meeting_id": meeting_id,
            "kind": ParticipantKind(kind),
            "grid_code": value if kind == "GRID" else None,
            "department": value if kind == "DEPARTMENT" else None,
            "unit_name": value if kind == "OUTSIDE_UNIT" else None,
        }

    # --- helpers -------------------------------------------------------------------------------

    def _days(self) -> list[date]:
        return [self.period.start + timedelta(days=n) for n in range(self.period.days)]

    def _moment(self, *, hours: tuple[float, float]) -> datetime:
        """A moment on a random day of the period, between `hours` (China time)."""
        day = self.period.start + timedelta(days=self.rng.randrange(self.period.days))
        return start_of_day(day) + timedelta(hours=self.rng.uniform(*hours))

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _name(self, grid: Site) -> str | None:
        board = self.world.members.get(grid.code)
        return board[0][1] if board else None


def generate_month(
    world: WorkWorld,
    *,
    seed: int = 0,
    period: Period = MONTH,
    deadlines: Deadlines | None = None,
) -> Iterator[dict[type[Base], list[Row]]]:
    """The month's rows, one community (then its street) at a time."""
    return MonthOfWork(
        world, seed=seed, period=period, deadlines=deadlines or default_deadlines()
    ).run()


async def has_case_work(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        return bool(await connection.scalar(select(func.count()).select_from(Case)))


async def seed_month_of_work(
    engine: AsyncEngine,
    *,
    seed: int = 0,
    period: Period = MONTH,
    batch_size: int = 20_000,
    progress: Callable[[int, int], None] | None = None,
) -> WorkSummary:
    """Generate and write the month into a database that holds a district and no case work."""
    started = time.perf_counter()
    if await has_case_work(engine):
        raise WorkSeedError("database already holds case work; seed an empty district")
    async with engine.connect() as connection:
        world = await load_world(connection)
    if not world.grids:
        raise WorkSeedError("no district to work in; run `hub seed` or `hub demo` first")
    counts: Counter[str] = Counter()
    units = sum(len(world.below(street.code)) + 1 for street in world.below(world.district.code))
    pending = empty_rows()
    for done, rows in enumerate(generate_month(world, seed=seed, period=period), start=1):
        for model, batch in rows.items():
            pending[model].extend(batch)
        if sum(len(batch) for batch in pending.values()) >= batch_size or done == units:
            await _write(engine, pending, counts)
            pending = empty_rows()
        if progress is not None:
            progress(done, units)
    await _write(engine, pending, counts)
    return WorkSummary(dict(counts), time.perf_counter() - started)


async def _write(
    engine: AsyncEngine, rows: dict[type[Base], list[Row]], counts: Counter[str]
) -> None:
    if not any(rows.values()):
        return
    async with engine.begin() as connection:
        for model in WORK_TABLES:
            if rows[model]:
                await connection.execute(insert(model), rows[model])
                counts[model.__tablename__] += len(rows[model])
