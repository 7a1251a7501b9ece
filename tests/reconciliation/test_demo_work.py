"""`hub demo`'s month of grid work on a district whose people came through the connectors."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.demo.work import MONTH, seed_month_of_work
from hub.governance import scoreboard
from hub.governance.enums import CaseCategory
from hub.governance.permissions import actor_from_caller
from hub.storage.models import Case, Household, Visit
from hub.storage.session import create_sessionmaker
from tests.governance.conftest import Caller
from tests.reconciliation.conftest import Syncer


async def test_the_demo_month_works_the_households_the_police_register_brought(
    run_sync: Syncer, hub: AsyncEngine
) -> None:
    await run_sync()

    summary = await seed_month_of_work(hub, seed=0)

    async with hub.connect() as connection:
        visited = await connection.scalar(select(func.count(func.distinct(Visit.household_id))))
        households = await connection.scalar(select(func.count()).select_from(Household))
        categories = set(await connection.scalars(select(Case.category).distinct()))
    assert households
    assert 0 < (visited or 0) < households  # about four households in ten
    assert categories == set(CaseCategory)
    observer = actor_from_caller(Caller("a", "a", ("auditor",), frozenset({"kpi:read"})))
    async with create_sessionmaker(hub)() as session:
        root = await scoreboard.grid_kpis(
            session, actor=observer, grid_code="410105", period=MONTH, now=MONTH.end_at
        )
    assert root.values["casesReported"].numerator == summary.counts["cases"]
    assert root.values["visits"].numerator == summary.counts["visits"]
