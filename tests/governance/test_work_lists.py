"""Work lists: cases by subtree, state, category, holder, page; visits due; grids not walked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError, NotFoundError
from hub.governance import patrols, visits
from hub.governance.enums import CaseCategory, CaseState, CaseSubtype
from hub.governance.permissions import Actor
from hub.governance.queries import (
    CaseFilter,
    CasePage,
    grids_without_patrol,
    households_due_visit,
    list_cases,
)
from hub.storage.models import Visit
from tests.governance.conftest import (
    BUILDING,
    COMMUNITY,
    NEIGHBOUR,
    OTHER_BUILDING,
    STREET,
    Governance,
    actor,
)

DISPATCHER = actor("district_dispatcher")


async def ids(gov: Governance, who: Actor, **filters: Any) -> list[str]:
    page = await gov.run(
        lambda session: list_cases(
            session,
            actor=who,
            filters=CaseFilter(**filters),
            now=gov.now,
        )
    )
    return [case.id for case in page.cases]


async def test_cases_filter_by_subtree_state_category_group_and_holder(gov: Governance) -> None:
    here = await gov.report(actor("grid_worker", BUILDING))
    gov.tick(minutes=1)
    next_door = await gov.report(
        actor("grid_worker", NEIGHBOUR),
        NEIGHBOUR,
        category=CaseCategory.LIVELIHOOD,
        subtype=CaseSubtype.ELEVATOR,
        group_appeal=True,
    )
    gov.tick(minutes=1)
    far = await gov.report(actor("grid_worker", OTHER_BUILDING), OTHER_BUILDING)
    here = await gov.move("accept", actor("grid_worker", BUILDING), here)
    here = await gov.move("escalate", actor("grid_worker", BUILDING), here)

    assert await ids(gov, DISPATCHER) == [far.id, next_door.id, here.id]  # newest first
    assert await ids(gov, DISPATCHER, grid_code=COMMUNITY) == [next_door.id, here.id]
    assert await ids(gov, DISPATCHER, states=(CaseState.ESCALATED,)) == [here.id]
    assert await ids(gov, DISPATCHER, categories=(CaseCategory.LIVELIHOOD,)) == [next_door.id]
    assert await ids(gov, DISPATCHER, group_appeal=True) == [next_door.id]
    assert await ids(gov, DISPATCHER, held_by=COMMUNITY) == [here.id]
    assert await ids(gov, actor("grid_worker", STREET)) == [next_door.id, here.id]
    with pytest.raises(NotFoundError, match="no grid '410105002' within your reach"):
        await ids(gov, actor("grid_worker", STREET), grid_code="410105002")


async def test_case_pages_follow_the_cursor_without_gaps_or_repeats(gov: Governance) -> None:
    reported = []
    for _ in range(5):
        reported.append((await gov.report(actor("grid_worker", BUILDING))).id)
        gov.tick(seconds=1 if len(reported) != 3 else 0)  # two cases share a timestamp

    def page_after(after: str | None) -> Callable[[AsyncSession], Awaitable[CasePage]]:
        return lambda session: list_cases(
            session, actor=DISPATCHER, first=2, after=after, now=gov.now
        )

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await gov.run(page_after(cursor))
        seen += [case.id for case in page.cases]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert sorted(seen) == sorted(reported)
    assert len(seen) == len(set(seen))
    with pytest.raises(BadInputError, match="not a cursor"):
        await gov.run(lambda session: list_cases(session, actor=DISPATCHER, after="garbage"))
    with pytest.raises(BadInputError, match="first must be 1 to 500"):
        await gov.run(lambda session: list_cases(session, actor=DISPATCHER, first=0))


async def test_households_visited_fewer_than_twice_this_year_are_due(gov: Governance) -> None:
    worker = actor("grid_worker", BUILDING)
    first, second = gov.households[BUILDING]

    def visit_at(moment: datetime) -> Callable[[AsyncSession], Awaitable[Visit]]:
        return lambda session: visits.record_visit(
            session,
            actor=worker,
            idempotency_key=gov.key(),
            household_id=first,
            visited_at=moment,
            clock=gov.clock,
        )

    for moment in (gov.now - timedelta(days=40), gov.now - timedelta(days=3)):
        await gov.run(visit_at(moment))
    await gov.run(
        lambda session: visits.record_visit(
            session,
            actor=worker,
            idempotency_key=gov.key(),
            household_id=second,
            visited_at=gov.now - timedelta(days=1),
            clock=gov.clock,
        )
    )

    due = await gov.run(
        lambda session: households_due_visit(
            session,
            actor=actor("grid_worker", COMMUNITY),
            grid_code=COMMUNITY,
            today=date(2026, 8, 3),
        )
    )

    assert [(d.household_id, d.visits_this_year) for d in due] == [
        (gov.households[NEIGHBOUR][0], 0),
        (gov.households[NEIGHBOUR][1], 0),
        (second, 1),
    ]
    assert due[-1].last_visited_on == date(2026, 8, 2)
    next_year = await gov.run(
        lambda session: households_due_visit(
            session, actor=worker, grid_code=BUILDING, today=date(2027, 1, 2)
        )
    )
    assert len(next_year) == 2  # a new year starts from zero


async def test_building_grids_nobody_walked_today_are_listed(gov: Governance) -> None:
    await gov.run(
        lambda session: patrols.record_patrol(
            session,
            actor=actor("grid_worker", BUILDING),
            idempotency_key="p",
            grid_code=BUILDING,
            started_at=gov.now - timedelta(hours=1),
            ended_at=gov.now,
            clock=gov.clock,
        )
    )

    async def missing(day: date) -> list[str]:
        grids = await gov.run(
            lambda session: grids_without_patrol(
                session, actor=DISPATCHER, grid_code=STREET, day=day
            )
        )
        return [grid.code for grid in grids]

    assert await missing(date(2026, 8, 3)) == [NEIGHBOUR]
    assert await missing(date(2026, 8, 4)) == [BUILDING, NEIGHBOUR]
