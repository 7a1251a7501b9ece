"""The demo month of grid work: deterministic, legal under the state machine, covering it all."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.demo.seed import seed_district
from hub.demo.work import WORK_TABLES, WorkSeedError, generate_month, seed_month_of_work
from hub.demo.workworld import WorkWorld, load_world
from hub.governance.deadlines import default_deadlines
from hub.governance.enums import CaseAction, CaseCategory, CaseSource, Satisfaction
from hub.governance.states import INITIAL_STATE, TRANSITIONS
from hub.storage.models import Case, CaseAssignment, CaseTrace, Grid, JointMeetingCase
from hub.vocabulary import GridLevel


@pytest.fixture
async def world(engine: AsyncEngine) -> WorkWorld:
    await seed_district(engine, scale="small", residents=600, seed=3)
    async with engine.connect() as connection:
        return await load_world(connection)


def digest(world: WorkWorld, seed: int) -> str:
    hasher = hashlib.sha256()
    for rows in generate_month(world, seed=seed):
        for model in WORK_TABLES:
            for row in rows[model]:
                hasher.update(repr(sorted(row.items())).encode())
    return hasher.hexdigest()


async def test_the_same_district_and_seed_give_the_same_month(world: WorkWorld) -> None:
    assert digest(world, seed=1) == digest(world, seed=1)
    assert digest(world, seed=1) != digest(world, seed=2)


async def test_every_case_history_is_a_walk_through_the_transition_table(
    engine: AsyncEngine, world: WorkWorld
) -> None:
    await seed_month_of_work(engine, seed=3)
    deadlines = default_deadlines()
    async with engine.connect() as connection:
        cases = {case.id: case for case in await connection.execute(select(Case.__table__))}
        traces = list(
            await connection.execute(
                select(CaseTrace.__table__).order_by(CaseTrace.case_id, CaseTrace.seq)
            )
        )
    levels = {code: site.level for code, site in world.grids.items()}
    by_case: dict[str, list[Any]] = {}
    for trace in traces:
        by_case.setdefault(trace.case_id, []).append(trace)

    assert set(by_case) == set(cases)
    for case_id, history in by_case.items():
        case = cases[case_id]
        assert [t.seq for t in history] == list(range(1, len(history) + 1))
        assert (history[0].action, history[0].to_state) == (CaseAction.REPORT, INITIAL_STATE)
        for before, after in itertools.pairwise(history):
            rule = TRANSITIONS[(before.to_state, after.action)]
            assert levels[before.holding_grid_code] in rule.levels
            assert (after.from_state, after.to_state) == (before.to_state, rule.next_state)
            assert after.at >= before.at
            expected_due = deadlines.due_after(
                from_state=after.from_state, to_state=after.to_state,
                level=levels[after.holding_grid_code], at=after.at, current_due=before.due_at,
            )  # fmt: skip
            assert after.due_at == expected_due
            assert after.prior_due_at == before.due_at  # the deadline the move answered
        last = history[-1]
        assert (case.state, case.version, case.due_at) == (last.to_state, len(history), last.due_at)
        assert case.holding_grid_code == last.holding_grid_code


async def test_the_month_holds_every_kind_of_work(engine: AsyncEngine, world: WorkWorld) -> None:
    summary = await seed_month_of_work(engine, seed=3)

    async with engine.connect() as connection:
        categories = set(await connection.scalars(select(Case.category).distinct()))
        sources = set(await connection.scalars(select(Case.source).distinct()))
        actions = Counter(await connection.scalars(select(CaseTrace.action)))
        ratings = set(await connection.scalars(select(Case.satisfaction).distinct()))
        departments = await connection.scalar(
            select(func.count()).where(CaseAssignment.department.is_not(None))
        )
        district = await connection.scalar(
            select(Grid.code).where(Grid.level == GridLevel.DISTRICT)
        )
        at_district = await connection.scalar(
            select(func.count()).where(CaseTrace.holding_grid_code == district)
        )
        settled = await connection.scalar(select(func.count()).select_from(JointMeetingCase))

    assert categories == set(CaseCategory)
    assert sources == set(CaseSource) - {CaseSource.DISPATCHER}
    assert all(actions[action] > 0 for action in CaseAction), actions
    assert set(Satisfaction) <= ratings
    assert departments
    assert at_district
    assert settled
    assert all(summary.counts[model.__tablename__] > 0 for model in WORK_TABLES)


async def test_a_district_with_work_is_not_seeded_twice(
    engine: AsyncEngine, world: WorkWorld
) -> None:
    await seed_month_of_work(engine, seed=3)

    with pytest.raises(WorkSeedError, match="already holds case work"):
        await seed_month_of_work(engine, seed=3)
