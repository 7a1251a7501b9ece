"""KPI queries are planned for their own parameters on PostgreSQL, however often they run.

asyncpg prepares every statement; after five runs PostgreSQL may reuse a generic plan, which
for the group-appeal KPIs took 20 s where the custom plan took 40 ms (tests/perf). The
KPI code asks for custom plans in its transaction; this pins that it still does.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.demo.work import MONTH
from hub.governance import kpis


async def test_kpi_queries_ask_postgresql_for_a_plan_of_their_own(
    session: AsyncSession, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("plan caching is PostgreSQL's; SQLite plans every statement afresh")
    parameters = {**kpis.query_parameters(MONTH, now=MONTH.end_at), "lo": "410105/", "hi": "4"}

    for _ in range(7):
        figures = await kpis.own_figures(
            session, kpis.KPI_BY_NAME["appealSatisfactionRate"], parameters
        )

    assert figures == {}
    assert await session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
