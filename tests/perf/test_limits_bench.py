"""Benchmark: what the limits and the cost analysis cost, on the 100-resident page.

Run with `make bench`. Two `hub serve` processes over the same seeded database, one with
HUB_LIMITS_ENABLED=false (no HTTP limits, no document limits, no cost analysis, no budget
spending, no load shedding: what the hub did before them), take the same load from one
client process in alternating rounds, side by side, so that the machine's changing load
falls on both alike. Eight callers, the default requests in flight: no request ever waits
in the admission queue. The table printed at the end is what README's performance section
records. Nothing here asserts a time.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.conftest import district_code, e2e_database, run_hub, seed_database
from tests.security.conftest import write_policy

# The page DESIGN.md measures: 100 residents with their four department profiles.
PAGE = (
    "{ residents(first: 100) { edges { node { id name age maskedIdNumber tags grid { name } "
    "health { familyDoctor { doctorName institution } vaccinations { vaccine doseNumber } } "
    "socialSecurity { insuranceEnrollments { insuranceType status } } "
    "education { enrollments { school grade } } "
    "police { householdRegistration { householdNumber } residencePermit { permitNumber } } "
    "} } } }"
)
BENCH_ROLE = """

[roles.bench_reader]
description = "benchmark only: every department's basic data, district-wide, an endless budget"
scopes = [
  "resident:basic", "grid:read", "health:read", "social:read", "education:read", "police:read",
]
row_scope = "district"
cost_budget_per_minute = 1_000_000_000_000
"""
CONCURRENCY = 8
DURATION = 8.0
ROUNDS = 6
RESIDENTS = 300


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    failures: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


async def load(url: str, headers: dict[str, str]) -> Measurement:
    done = failures = 0
    deadline = time.perf_counter() + DURATION
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal done, failures
            while time.perf_counter() < deadline:
                response = await client.post(
                    f"{url}/graphql", json={"query": PAGE}, headers=headers
                )
                done += 1
                failures += response.status_code != 200 or "errors" in response.json()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return Measurement(done, time.perf_counter() - started, failures)


def test_throughput_with_limits_on_and_off(tmp_path: Path) -> None:
    with e2e_database(tmp_path) as database_url, ExitStack() as servers:
        seed_database(database_url, tmp_path / "var", residents=RESIDENTS)
        district = district_code(database_url)
        policy = tmp_path / "bench-policy"
        policy.mkdir()
        # The seed's master key (generated into its var dir in dev) for both servers, whose
        # var dirs differ: without it each would make its own and open no sealed value.
        field_key = (tmp_path / "var" / "field.key").read_text(encoding="utf-8").strip()
        env = {
            "HUB_TOKEN_TTL_SECONDS": "3600",
            "HUB_POLICY": str(write_policy(policy, BENCH_ROLE)),
            "HUB_FIELD_KEY": field_key,
        }
        hubs = {
            side: servers.enter_context(
                run_hub(
                    database_url,
                    tmp_path / side,
                    district=district,
                    HUB_LIMITS_ENABLED="true" if side == "on" else "false",
                    **env,
                )
            )
            for side in ("on", "off")
        }
        headers = {side: hub.caller_headers("bench_reader") for side, hub in hubs.items()}
        for side, hub in hubs.items():  # warm-up: plans, caches, connections
            asyncio.run(load(hub.url, headers[side]))
        runs: dict[str, list[Measurement]] = {"on": [], "off": []}
        for round_ in range(ROUNDS):
            order = ("on", "off") if round_ % 2 == 0 else ("off", "on")
            for side in order:
                runs[side].append(asyncio.run(load(hubs[side].url, headers[side])))

    assert all(run.failures == 0 for side in runs.values() for run in side), runs
    on = [run.per_second for run in runs["on"]]
    off = [run.per_second for run in runs["off"]]
    ratios = [a / b for a, b in zip(on, off, strict=True)]
    print(
        f"\n100-resident page, four profiles: 1 uvicorn worker each, {CONCURRENCY} callers, "
        f"{ROUNDS} alternating rounds of {DURATION:.0f} s"
    )
    print(f"{'round':>6} {'limits off':>12} {'limits on':>12} {'on/off':>8}")
    for index, (a, b, ratio) in enumerate(zip(on, off, ratios, strict=True), 1):
        print(f"{index:>6} {b:>10.1f}/s {a:>10.1f}/s {ratio:>8.3f}")
    print(
        f"{'median':>6} {statistics.median(off):>10.1f}/s {statistics.median(on):>10.1f}/s "
        f"{statistics.median(ratios):>8.3f}  (overhead {1 - statistics.median(ratios):.1%})"
    )
