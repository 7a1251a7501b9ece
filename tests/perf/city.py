"""`BENCH_SCALE=city make bench`: the hub alone over a 1,000,000-resident district on PostgreSQL.

In the benchmark's cluster, a database of its own is seeded once per run with `hub seed
--scale jinshui --residents 1000000` (BENCH_CITY_RESIDENTS to change it), timed. Then one
`hub serve` answers two questions whose cost must not grow with the district:

- a lookup by ID number (1,000 residents in turn);
- a deep street page: `residents(grid: STREET, first: 100, after: CURSOR)` on the largest
  street, CURSOR being the end cursor after 90 % of the street, reached by walking the
  street through the API in pages of 500 (so any cursor format the hub adopts works).

Each is measured with one connection (latency: p50, p99) and with BENCH_CONNECTIONS
(throughput, CPU per request), after a warm-up, plus statements and SQL time per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.perf.bench_load import (
    LoadResult,
    ProcessMeter,
    StatementCount,
    StatementMeter,
    run_wrk,
    statement_count,
)
from tests.perf.bench_numbers import sample_lookups
from tests.perf.bench_queries import Request, graphql_request, requests_for
from tests.perf.bench_servers import (
    ROLES,
    Seeded,
    Server,
    admin,
    fetch,
    hub_server,
    seed_district,
    with_database,
)

if TYPE_CHECKING:
    from tests.perf.side_by_side import Config

STREET_PAGE = """
query StreetPage($grid: ID!, $after: String) {
  residents(grid: $grid, first: 100, after: $after) {
    edges { cursor node { id name gender age maskedIdNumber grid { code } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
WALK = """
query Walk($grid: ID!, $after: String) {
  residents(grid: $grid, first: 500, after: $after) { pageInfo { hasNextPage endCursor } }
}
"""
DEPTH = 0.9
WALK_PAGE = 500


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _largest_street(url: str) -> tuple[str, int]:
    rows = await fetch(
        url,
        "SELECT split_part(grid_path, '/', 2) AS code, count(*) AS residents FROM residents "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
    )
    return str(rows[0]["code"]), int(rows[0]["residents"])


def walk_street(hub: Server, street: str, residents: int) -> tuple[str, int, float]:
    """The end cursor after DEPTH of the street, by paging through it; (cursor, depth, seconds)."""
    pages = max(1, int(DEPTH * residents) // WALK_PAGE)
    after: str | None = None
    started = time.perf_counter()
    with httpx.Client(timeout=300) as client:
        for _ in range(pages):
            body = {"query": WALK, "variables": {"grid": street, "after": after}}
            answer = client.post(f"{hub.url}/graphql", json=body, headers=dict(hub.headers)).json()
            if answer.get("errors"):
                raise AssertionError(f"walking the street failed: {answer['errors']}")
            info = answer["data"]["residents"]["pageInfo"]
            after = info["endCursor"]
            if not info["hasNextPage"]:
                break
    if after is None:
        raise AssertionError(f"street {street} has no residents")
    return after, pages * WALK_PAGE, time.perf_counter() - started


def _statements(
    hub: Server, requests: list[Request], meter: StatementMeter, count: int
) -> StatementCount:
    with httpx.Client(timeout=300) as client:
        return statement_count(hub, ROLES["hub"], requests, count, meter, client)


def _measure(
    config: Config,
    hub: Server,
    name: str,
    requests: list[Request],
    scratch: Path,
    meter: StatementMeter,
) -> dict[str, Any]:
    script = scratch / f"city-{name}.lua"
    run_wrk(
        hub, requests, connections=config.connections, seconds=config.warmup, script_path=script
    )
    process = ProcessMeter(hub.pid)

    def settle() -> None:
        process.wait_idle(lambda: meter.calls(ROLES["hub"]))

    settle()
    single = run_wrk(hub, requests, connections=1, seconds=config.duration, script_path=script)
    settle()
    before = process.cpu_seconds()
    loaded = run_wrk(
        hub, requests, connections=config.connections, seconds=config.duration, script_path=script
    )
    cpu = process.cpu_seconds() - before
    _progress(
        f"city {name:14} 1 connection: p50 {single.p50_ms:.1f} ms, p99 {single.p99_ms:.1f} ms; "
        f"{config.connections}: {loaded.per_second:.1f} req/s"
    )
    return {
        "one_connection": single,
        "loaded": loaded,
        "cpu_ms_per_request": 1000 * cpu / max(loaded.requests, 1),
    }


def measure_city(config: Config, url: str, scratch: Path) -> dict[str, Any]:
    residents = int(os.environ.get("BENCH_CITY_RESIDENTS", "1000000"))
    city_url = with_database(url, "city")
    asyncio.run(admin(url, "CREATE DATABASE city"))
    _progress(f"seeding the city: {residents:,} residents (hub seed --scale jinshui) …")
    seeded: Seeded = seed_district(city_url, residents, scratch / "city-var")
    _progress(
        f"seeded {seeded.residents:,} residents, {seeded.rows:,} rows in {seeded.seconds:.0f} s"
    )
    asyncio.run(admin(city_url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements", "ANALYZE"))
    street, street_residents = asyncio.run(_largest_street(city_url))
    lookups = sample_lookups(city_url, seeded.field_key, 1000)
    meter = StatementMeter(city_url)
    results: dict[str, Any] = {}
    try:
        with contextlib.ExitStack() as stack:
            hub = stack.enter_context(hub_server(seeded, scratch / "hub-city"))
            cursor, depth, walk_seconds = walk_street(hub, street, street_residents)
            _progress(f"walked {depth:,} residents into street {street} in {walk_seconds:.0f} s")
            workloads = {
                "by_id_number": requests_for("hub", "by_id_number", lookups),
                "deep_street_page": [
                    graphql_request(STREET_PAGE, {"grid": street, "after": cursor})
                ],
            }
            for name, requests in workloads.items():
                results[name] = _measure(config, hub, name, requests, scratch, meter)
                results[name]["statements"] = _statements(
                    hub, requests, meter, config.statement_requests * 5
                )
            results["memory_mib"] = dict(
                zip(("rss", "peak"), ProcessMeter(hub.pid).memory_mib(), strict=True)
            )
    finally:
        meter.close()
    return {
        "seed": {"residents": seeded.residents, "rows": seeded.rows, "seconds": seeded.seconds},
        "street": {"code": street, "residents": street_residents, "depth": depth},
        "walk_seconds": walk_seconds,
        "connections": config.connections,
        "results": results,
    }


def format_city(report: dict[str, Any]) -> str:
    seed, street, n = report["seed"], report["street"], report["connections"]
    lines = [
        f"\nCity scale, hub only: {seed['residents']:,} residents ({seed['rows']:,} rows) seeded "
        f"in {seed['seconds']:.0f} s; street {street['code']} holds {street['residents']:,}, "
        f"the page starts {street['depth']:,} deep; p50/p99 with one connection, the rest with {n}",
        f"{'':22}{'p50 ms':>9}{'p99 ms':>9}{f'req/s ({n})':>12}{'CPU ms/req':>12}{'alone':>8}"
        f"{'stmts/req':>11}{'SQL ms/req':>12}",
    ]
    for name in ("by_id_number", "deep_street_page"):
        result = report["results"][name]
        single: LoadResult = result["one_connection"]
        loaded: LoadResult = result["loaded"]
        count: StatementCount = result["statements"]
        lines.append(
            f"  {name.replace('_', ' '):20}{single.p50_ms:>9.1f}{single.p99_ms:>9.1f}"
            f"{loaded.per_second:>12.1f}{result['cpu_ms_per_request']:>12.2f}{count.cpu_ms:>8.2f}"
            f"{count.statements:>11.1f}{count.sql_ms:>12.2f}"
        )
    return "\n".join(lines)
