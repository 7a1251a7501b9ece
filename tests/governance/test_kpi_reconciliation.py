"""The demo month's KPIs, recomputed here from their written definitions, match the hub exactly.

The independent computation is plain Python over the stored rows: it does not call
hub/governance/kpis.py, nor its SQL, nor the roll-up, nor the hub's deadline code (deadlines
are re-derived from deadlines.toml as README defines them). Every grid of every level is
compared, numerator and denominator.
"""

from __future__ import annotations

import itertools
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.demo.seed import seed_district
from hub.demo.work import MONTH, seed_month_of_work
from hub.governance import kpis, scoreboard
from hub.governance.deadlines import DEFAULT_DEADLINES
from hub.governance.permissions import actor_from_caller
from hub.storage.models import Case, CaseTrace, Grid, Household, Patrol, Visit
from hub.storage.session import create_sessionmaker
from tests.governance.conftest import Caller

CST = timezone(timedelta(hours=8))
START, END = date(2026, 8, 1), date(2026, 8, 31)
START_AT = datetime.combine(START, time(0), CST)
END_AT = datetime.combine(END + timedelta(days=1), time(0), CST)
NOW = END_AT  # the demo's "today" is 1 September 2026
SATISFIED = {"SATISFIED", "BASICALLY_SATISFIED"}
WAITING, HANDLING = {"REPORTED", "ESCALATED", "REOPENED"}, {"ACCEPTED", "ASSIGNED"}


@dataclass
class Rows:
    grids: list[Any]
    households: list[Any]
    visits: list[Any]
    patrols: list[Any]
    cases: list[Any]
    traces: dict[str, list[Any]]  # case id → its traces by seq


@pytest.fixture
async def month(engine: AsyncEngine) -> Rows:
    await seed_district(engine, scale="small", residents=2000, seed=0)
    await seed_month_of_work(engine, seed=0)
    async with engine.connect() as connection:

        async def rows(model: Any) -> list[Any]:
            return list(await connection.execute(select(model.__table__)))

        traces: dict[str, list[Any]] = defaultdict(list)
        for trace in sorted(await rows(CaseTrace), key=lambda t: (t.case_id, t.seq)):
            traces[trace.case_id].append(trace)
        return Rows(
            await rows(Grid), await rows(Household), await rows(Visit), await rows(Patrol),
            await rows(Case), dict(traces),
        )  # fmt: skip


def in_period(moment: datetime) -> bool:
    return START_AT <= moment < END_AT


def china_day(moment: datetime) -> date:
    return moment.astimezone(CST).date()


def deadlines_by_hand(month: Rows) -> dict[tuple[str, int], datetime | None]:
    """(case, seq) → the deadline that move set, from deadlines.toml and the README's rules."""
    config = tomllib.loads(DEFAULT_DEADLINES.read_text("utf-8"))["levels"]
    level_of = {grid.code: grid.level for grid in month.grids}
    deadline: dict[tuple[str, int], datetime | None] = {}
    for case_id, traces in month.traces.items():
        previous: datetime | None = None
        for trace in traces:
            level = config[str(level_of[trace.holding_grid_code])]
            due: datetime | None = None
            if trace.to_state in WAITING:
                due = trace.at + timedelta(hours=level["accept_within_hours"])
            elif trace.to_state in HANDLING:
                keeps = trace.from_state in HANDLING and previous is not None
                due = previous if keeps else trace.at + timedelta(days=level["handle_within_days"])
            deadline[(case_id, trace.seq)] = due
            previous = due
    return deadline


def by_hand(month: Rows) -> dict[str, dict[str, tuple[int, int]]]:
    """Grid code → KPI name → (numerator, denominator), each KPI as README defines it."""
    grid_of_household = {h.id: h.grid_code for h in month.households}
    path_of = {grid.code: grid.path for grid in month.grids}
    deadline = deadlines_by_hand(month)
    last_day = min(END, china_day(NOW))
    days = [START + timedelta(days=n) for n in range((last_day - START).days + 1)]
    visits_in_year: dict[str, int] = defaultdict(int)
    for visit in month.visits:
        if date(END.year, 1, 1) <= visit.visited_at.astimezone(CST).date() <= END:
            visits_in_year[visit.household_id] += 1
    walked = {(p.grid_code, china_day(p.started_at)) for p in month.patrols}
    results = {}
    for grid in month.grids:

        def inside(code: str, root: str = grid.path) -> bool:
            return str(path_of[code]).startswith(root)

        cases = [case for case in month.cases if inside(case.grid_code)]
        households = [h for h in month.households if inside(h.grid_code)]
        buildings = [g for g in month.grids if g.level == "BUILDING" and inside(g.code)]
        closes = [
            (case, t) for case in cases for t in month.traces[case.id] if t.action == "CLOSE"
            and in_period(t.at)
        ]  # fmt: skip

        def solved_in_grid(case: Any) -> bool:
            traces = month.traces[case.id]
            return any(
                t.action == "RESOLVE" and in_period(t.at)
                and not any(e.action == "ESCALATE" and e.seq < t.seq for e in traces)
                for t in traces
            )  # fmt: skip

        def missed_in_period(case: Any) -> bool:
            traces = month.traces[case.id]
            for i, trace in enumerate(traces):
                due = deadline[(case.id, trace.seq)]
                if due is None or not in_period(due) or not due < NOW:
                    continue
                following = traces[i + 1] if i + 1 < len(traces) else None
                if following is None or following.at > due:
                    return True
            return False

        def resolved_in_time(case: Any) -> bool:
            traces = month.traces[case.id]
            for before, trace in itertools.pairwise(traces):
                due = deadline[(case.id, before.seq)]
                if trace.action == "RESOLVE" and due is not None and trace.at <= due:
                    return True
            return False

        appeals = [
            case for case in cases if case.group_appeal
            and any(t.action == "ACCEPT" and in_period(t.at) for t in month.traces[case.id])
        ]  # fmt: skip
        reported = [case for case in cases if in_period(case.reported_at)]
        results[grid.code] = {
            "visits": (
                sum(
                    1
                    for v in month.visits
                    if inside(grid_of_household[v.household_id])
                    and START <= china_day(v.visited_at) <= END
                ),
                0,
            ),
            "visitCoverage": (sum(visits_in_year[h.id] >= 2 for h in households), len(households)),
            "patrolCompliance": (
                sum((b.code, day) in walked for b in buildings for day in days),
                len(buildings) * len(days),
            ),
            "casesReported": (len(reported), 0),
            "casesSolvedInGrid": (sum(solved_in_grid(case) for case in cases), 0),
            "casesEscalated": (
                sum(
                    any(t.action == "ESCALATE" and in_period(t.at) for t in month.traces[c.id])
                    for c in cases
                ),
                0,
            ),
            "casesOverdue": (sum(missed_in_period(case) for case in cases), 0),
            "groupAppealHandlingRate": (sum(resolved_in_time(c) for c in appeals), len(appeals)),
            "workSatisfactionRate": (
                sum(t.satisfaction in SATISFIED for _, t in closes),
                len(closes),
            ),
            "appealSatisfactionRate": (
                sum(t.satisfaction in SATISFIED for c, t in closes if c.group_appeal),
                sum(1 for c, _ in closes if c.group_appeal),
            ),
            "petitionsBeyondDistrict": (sum(c.petition_beyond_district for c in reported), 0),
            "massIncidents": (sum(c.mass_incident for c in reported), 0),
        }
    return results


async def hub_kpis(engine: AsyncEngine) -> dict[str, scoreboard.GridKpis]:
    dispatcher = actor_from_caller(
        Caller("d", "d", ("district_dispatcher",), frozenset({"kpi:read"}))
    )
    async with create_sessionmaker(engine)() as session:
        return await scoreboard.subtree_kpis(
            session, actor=dispatcher, grid_code="410105", period=MONTH, now=NOW
        )


async def test_every_kpi_of_the_demo_month_reconciles_at_every_level(
    engine: AsyncEngine, month: Rows
) -> None:
    expected = by_hand(month)
    computed = await hub_kpis(engine)

    assert set(computed) == set(expected)
    assert {entry.grid.level for entry in computed.values()} == {
        "DISTRICT", "STREET", "COMMUNITY", "BUILDING"
    }  # fmt: skip
    mismatches = [
        (code, name, figures, (value.numerator, value.denominator))
        for code, names in expected.items()
        for name, figures in names.items()
        if (value := computed[code].values[name])
        and figures != (value.numerator, value.denominator)
    ]
    assert mismatches == []
    for entry in computed.values():
        for name, value in entry.values.items():
            declared = kpis.KPI_BY_NAME[name]
            ratio = value.numerator / value.denominator if value.denominator else None
            assert value.value == (ratio if declared.rate else float(value.numerator))


async def test_every_kpi_of_the_demo_month_has_a_telling_value(
    engine: AsyncEngine, month: Rows
) -> None:
    district = (await hub_kpis(engine))["410105"].values

    for name, value in district.items():
        if kpis.KPI_BY_NAME[name].rate:
            assert value.value is not None, name
            assert 0 < value.value < 1, (name, value)
        else:
            assert value.numerator > 0, name
    assert set(kpis.KPI_BY_NAME) == set(district)


async def test_siblings_rank_by_their_values(engine: AsyncEngine, month: Rows) -> None:
    expected = by_hand(month)
    dispatcher = actor_from_caller(
        Caller("d", "d", ("district_dispatcher",), frozenset({"kpi:read"}))
    )
    async with create_sessionmaker(engine)() as session:
        street = next(g.code for g in month.grids if g.level == "STREET")
        ranked = await scoreboard.rank_children(
            session, actor=dispatcher, grid_code=street, kpi="patrolCompliance", period=MONTH,
            now=NOW,
        )  # fmt: skip
        overdue = await scoreboard.rank_children(
            session, actor=dispatcher, grid_code=street, kpi="casesOverdue", period=MONTH,
            now=NOW,
        )  # fmt: skip

    rates = [expected[r.grid.code]["patrolCompliance"] for r in ranked]
    values = [num / den for num, den in rates]
    assert values == sorted(values, reverse=True)
    assert ranked[0].rank == 1
    counts = [expected[r.grid.code]["casesOverdue"][0] for r in overdue]
    assert counts == sorted(counts)  # fewer overdue cases rank higher
    for before, after in itertools.pairwise(overdue):
        tied = before.value.value == after.value.value
        assert after.rank == (before.rank if tied else overdue.index(after) + 1)


def test_the_month_is_august_2026_in_china_time() -> None:
    assert (MONTH.start, MONTH.end) == (START, END)
    assert MONTH.end_at == END_AT == datetime(2026, 8, 31, 16, 0, tzinfo=UTC)
