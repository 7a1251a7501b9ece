"""Benchmark: the district's KPI roll-up over a month of 1,000,000 cases, and a street's case list.

Run with `make bench` (PostgreSQL: HUB_TEST_DATABASE_URL's server, or a throwaway cluster
from the machine's binaries). The Jinshui grid tree (7,679 building grids) gets, inside
PostgreSQL (generate_series, so loading takes seconds rather than an hour of Python),
1,000,000 cases reported in August 2026 with 4.3 traces each on average (solved in the grid,
escalated one level, still open, just reported), a patrol of nine building grids in ten each
day, 40,000 households and 20,000 visits. Then it times, best of ROUNDS after a warm-up:
every KPI for every grid of the district rolled up (`scoreboard.subtree_kpis`), one street's first
page of cases, its open cases, its overdue cases and a page deep in the list. Nothing here
asserts a time; the table printed is what README's performance section records.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.demo.seed import seed_grid_tree
from hub.demo.work import MONTH
from hub.governance import kpis, scoreboard
from hub.governance.enums import CATEGORY_OF, CaseState
from hub.governance.permissions import actor_from_caller
from hub.governance.queries import CaseFilter, list_cases
from hub.storage import migrations
from hub.storage.models import Grid
from hub.storage.session import create_engine, create_sessionmaker
from tests.governance.conftest import Caller

CASES = int(os.environ.get("HUB_BENCH_CASES", 1_000_000))  # smaller for a quick check
HOUSEHOLDS = 40_000
VISITS = 20_000
ROUNDS = 3
NOW = MONTH.end_at

# One row per kind of history: (kind, seq, action, from, to, hours after the report, holding,
# the deadline the move set and the one it answered, in hours after the report). Holding
# 'grid' is the reporting building, 'parent' its community. Kind 2 was accepted late.
STEPS = """
(0,1,'REPORT',NULL,'REPORTED',0,'grid',2,NULL),(0,2,'ACCEPT','REPORTED','ACCEPTED',1,'grid',73,2),
(0,3,'RESOLVE','ACCEPTED','RESOLVED',30,'grid',NULL,73),
(0,4,'VERIFY','RESOLVED','VERIFIED',50,'grid',NULL,NULL),
(0,5,'CLOSE','VERIFIED','CLOSED',70,'grid',NULL,NULL),
(1,1,'REPORT',NULL,'REPORTED',0,'grid',2,NULL),(1,2,'ACCEPT','REPORTED','ACCEPTED',1,'grid',73,2),
(1,3,'ESCALATE','ACCEPTED','ESCALATED',20,'parent',24,73),
(1,4,'ACCEPT','ESCALATED','ACCEPTED',22,'parent',142,24),
(1,5,'RESOLVE','ACCEPTED','RESOLVED',100,'parent',NULL,142),
(2,1,'REPORT',NULL,'REPORTED',0,'grid',2,NULL),(2,2,'ACCEPT','REPORTED','ACCEPTED',3,'grid',75,2),
(3,1,'REPORT',NULL,'REPORTED',0,'grid',2,NULL)
"""
KIND_OF = "(CASE WHEN i % 10 < 6 THEN 0 WHEN i % 10 < 8 THEN 1 WHEN i % 10 = 8 THEN 2 ELSE 3 END)"


@contextmanager
def bench_database() -> Iterator[str]:
    server = os.environ.get("HUB_TEST_DATABASE_URL")
    if server is None:
        from tests.pgcluster import throwaway_cluster

        with throwaway_cluster() as url:
            yield url
        return
    name = f"bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, statement: str) -> None:
    engine = create_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


async def load(engine: AsyncEngine) -> dict[str, float]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    await seed_grid_tree(engine, scale="jinshui", seed=0)
    subtypes = ",".join(f"({n},'{c}','{s}')" for n, (s, c) in enumerate(CATEGORY_OF.items()))
    start = MONTH.start_at.isoformat()
    async with engine.begin() as connection:
        # A bulk load: the rows are consistent by construction, so skip the per-row FK triggers.
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in (
            "CREATE TEMP TABLE b AS SELECT (row_number() OVER (ORDER BY code)) - 1 AS n, code, "
            "path, parent_code FROM grids WHERE level = 'BUILDING'",
            f"CREATE TEMP TABLE t(n int, category text, subtype text); INSERT INTO t VALUES {subtypes}",
            f"CREATE TEMP TABLE s(kind int, seq int, action text, from_state text, to_state text,"
            f" hours int, holding text, due int, prior int); INSERT INTO s VALUES {STEPS}",
        ):
            for part in statement.split("; "):
                await connection.execute(text(part))
        await connection.execute(text(_CASES.format(n=CASES, kind=KIND_OF, start=start)))
        await connection.execute(text(_TRACES.format(n=CASES, kind=KIND_OF)))
        field_work = _FIELD_WORK.format(households=HOUSEHOLDS, visits=VISITS, start=start)
        for part in field_work.split(";\n"):
            await connection.execute(text(part))
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE"))
    timings["load"] = time.perf_counter() - started
    return timings


_CASES = """
INSERT INTO cases (id, category, subtype, group_appeal, petition_beyond_district, mass_incident,
  description, location, grid_code, grid_path, holding_grid_code, holding_grid_path, holding_level,
  state, state_since, due_at, satisfaction, source, source_record_id, reported_at, reported_by,
  reporter_role, version)
SELECT md5(i::text)::uuid::text, t.category, t.subtype, i % 13 = 0, i % 5003 = 0, i % 20011 = 0,
  'bench', NULL, b.code, b.path,
  CASE WHEN {kind} = 1 THEN b.parent_code ELSE b.code END,
  CASE WHEN {kind} = 1 THEN (SELECT path FROM grids WHERE code = b.parent_code) ELSE b.path END,
  CASE WHEN {kind} = 1 THEN 'COMMUNITY' ELSE 'BUILDING' END,
  CASE {kind} WHEN 0 THEN 'CLOSED' WHEN 1 THEN 'RESOLVED' WHEN 2 THEN 'ACCEPTED' ELSE 'REPORTED' END,
  r.at, CASE {kind} WHEN 2 THEN r.at + interval '75 hours' WHEN 3 THEN r.at + interval '2 hours' END,
  CASE WHEN {kind} = 0 THEN (ARRAY['SATISFIED','BASICALLY_SATISFIED','DISSATISFIED'])[1 + i % 3] END,
  'GRID', NULL, r.at, 'bench', 'grid_worker',
  CASE {kind} WHEN 0 THEN 5 WHEN 1 THEN 5 WHEN 2 THEN 2 ELSE 1 END
FROM generate_series(1::bigint, {n}) AS i
JOIN b ON b.n = (i * 7919) % (SELECT count(*) FROM b)
JOIN t ON t.n = i % (SELECT count(*) FROM t)
CROSS JOIN LATERAL (SELECT timestamptz '{start}' + ((i * 104729) % 2678400) * interval '1 second' AS at) r
"""

_TRACES = """
INSERT INTO case_traces (case_id, seq, action, from_state, to_state, at, actor, actor_role,
  actor_grid_code, actor_department, holding_grid_code, due_at, prior_due_at, satisfaction, note,
  attachments)
SELECT c.id, s.seq, s.action, s.from_state, s.to_state, c.reported_at + s.hours * interval '1 hour',
  'bench', 'grid_worker', CASE s.holding WHEN 'grid' THEN c.grid_code ELSE g.parent_code END, NULL,
  CASE s.holding WHEN 'grid' THEN c.grid_code ELSE g.parent_code END,
  c.reported_at + s.due * interval '1 hour', c.reported_at + s.prior * interval '1 hour',
  CASE WHEN s.action = 'CLOSE' THEN c.satisfaction END, NULL, '[]'
FROM generate_series(1::bigint, {n}) AS i
JOIN cases c ON c.id = md5(i::text)::uuid::text
JOIN grids g ON g.code = c.grid_code
JOIN s ON s.kind = {kind}
"""

_FIELD_WORK = """
INSERT INTO households (id, number, address, grid_code, created_at)
SELECT md5('h' || i)::uuid::text, 'B' || i, 'bench', b.code, now()
FROM generate_series(1::bigint, {households}) AS i JOIN b ON b.n = i % (SELECT count(*) FROM b);
INSERT INTO visits (id, household_id, grid_code, grid_path, visitor, visitor_name, visited_at,
  visited_on, findings, follow_up_case_id, recorded_at)
SELECT md5('v' || i)::uuid::text, h.id, h.grid_code, b.path, 'bench', NULL, v.at,
  (v.at AT TIME ZONE 'Asia/Shanghai')::date, NULL, NULL, v.at
FROM generate_series(1::bigint, {visits}) AS i
JOIN households h ON h.id = md5('h' || (1 + i % {households}))::uuid::text
JOIN b ON b.code = h.grid_code
CROSS JOIN LATERAL (SELECT timestamptz '{start}' + ((i * 7877) % 2678400) * interval '1 second' AS at) v;
INSERT INTO patrols (id, grid_code, grid_path, walker, walker_name, started_at, ended_at, day,
  route_notes, recorded_at)
SELECT md5('p' || b.n || '-' || d)::uuid::text, b.code, b.path, 'bench', NULL, p.at,
  p.at + interval '1 hour', (p.at AT TIME ZONE 'Asia/Shanghai')::date, NULL, p.at
FROM b CROSS JOIN generate_series(0, 30) AS d
CROSS JOIN LATERAL (SELECT timestamptz '{start}' + d * interval '1 day' + interval '1 hour' AS at) p
WHERE (b.n + d) % 10 <> 0
"""


async def best_of(work: Callable[[], Awaitable[Any]]) -> float:
    await work()  # warm-up: plans, caches
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return min(times)


async def measure(engine: AsyncEngine) -> dict[str, float]:
    timings = await load(engine)
    sessionmaker = create_sessionmaker(engine)
    dispatcher = actor_from_caller(
        Caller("b", "b", ("district_dispatcher",), frozenset({"kpi:read", "cases:read"}))
    )
    async with sessionmaker() as session:
        street = await session.scalar(select(Grid.code).where(Grid.level == "STREET").limit(1))
        district = await session.scalar(select(Grid.code).where(Grid.parent_code.is_(None)))
        assert street is not None
        assert district is not None

    async def rollup() -> None:
        async with sessionmaker() as session:
            every = await scoreboard.subtree_kpis(
                session, actor=dispatcher, grid_code=district, period=MONTH, now=NOW
            )
            assert every[district].values["casesReported"].numerator == CASES

    async def page(filters: CaseFilter, deep: int = 0) -> None:
        async with sessionmaker() as session:
            result = await list_cases(session, actor=dispatcher, filters=filters, now=NOW, first=50)
            for _ in range(deep):
                result = await list_cases(
                    session, actor=dispatcher, filters=filters, now=NOW, first=50,
                    after=result.next_cursor,
                )  # fmt: skip
            assert result.cases

    timings["district KPI roll-up (12 KPIs, every grid)"] = await best_of(rollup)
    parameters = {
        **kpis.query_parameters(MONTH, now=NOW),
        "lo": f"{district}/",
        "hi": f"{district}0",
    }
    for declared in kpis.KPIS:

        async def one(declared: kpis.Kpi = declared) -> None:
            async with sessionmaker() as session:
                await kpis.own_figures(session, declared, parameters)

        timings[f"  of which {declared.name}"] = await best_of(one)
    street_only = CaseFilter(grid_code=street)
    timings["street case list, first page of 50"] = await best_of(lambda: page(street_only))
    open_cases = CaseFilter(grid_code=street, states=(CaseState.ACCEPTED, CaseState.REPORTED))
    timings["street open cases, first page"] = await best_of(lambda: page(open_cases))
    overdue = CaseFilter(grid_code=street, overdue=True)
    timings["street overdue cases, first page"] = await best_of(lambda: page(overdue))
    timings["street case list, 20 pages by cursor"] = await best_of(lambda: page(street_only, 19))
    return timings


def test_district_kpi_rollup_and_street_case_list_over_a_million_cases() -> None:
    with bench_database() as url:
        migrations.upgrade(url)
        timings = asyncio.run(_measure_and_dispose(create_engine(url)))
    print(
        f"\nGrid governance on PostgreSQL, {CASES:,} cases in {MONTH.start:%Y-%m}, best of {ROUNDS}"
    )
    for name, seconds in timings.items():
        print(f"{name:48} {seconds * 1000:>10.0f} ms")


async def _measure_and_dispose(engine: AsyncEngine) -> dict[str, float]:
    try:
        return await measure(engine)
    finally:
        await engine.dispose()
