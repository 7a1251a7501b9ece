"""Benchmark: GraphQL throughput with the audit trail on and off, side by side in one run.

Run with `make bench`. Two `hub serve` processes over the same seeded database, one with
HUB_AUDIT_ENABLED=false, take the same load from one client process; the table printed
at the end is what README's performance section records. Nothing here asserts a time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.conftest import district_code, e2e_database, run_hub, seed_database

QUERIES = {
    "me": "{ me { clientId } }",
    "resident page (20, 3 profiles)": (
        "{ residents(first: 20) { edges { node { id name age grid { name } "
        "health { familyDoctor { doctorName } } socialSecurity { insuranceEnrollments { insuranceType } } "
        "} } } }"
    ),
}
CONCURRENCY = 32
DURATION = 8.0
ROUNDS = 2


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    failures: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


async def load(url: str, headers: dict[str, str], query: str) -> Measurement:
    done = failures = 0
    deadline = time.perf_counter() + DURATION
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal done, failures
            while time.perf_counter() < deadline:
                response = await client.post(
                    f"{url}/graphql", json={"query": query}, headers=headers
                )
                done += 1
                failures += response.status_code != 200 or "errors" in response.json()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return Measurement(done, time.perf_counter() - started, failures)


def measure(directory: Path, database_url: str, district: str, *, audit: bool) -> dict[str, float]:
    env = {"HUB_AUDIT_ENABLED": "true" if audit else "false", "HUB_TOKEN_TTL_SECONDS": "3600"}
    with run_hub(database_url, directory, district=district, **env) as hub:
        headers = hub.caller_headers("service_center_clerk", grid=district)
        results = {}
        for name, query in QUERIES.items():
            asyncio.run(load(hub.url, headers, query))  # warm-up
            runs = [asyncio.run(load(hub.url, headers, query)) for _ in range(ROUNDS)]
            assert all(run.failures == 0 for run in runs), runs
            results[name] = max(run.per_second for run in runs)
        return results


def test_throughput_with_audit_on_and_off(tmp_path: Path) -> None:
    with e2e_database(tmp_path) as database_url:
        seed_database(database_url, tmp_path / "var")
        district = district_code(database_url)
        off = measure(tmp_path, database_url, district, audit=False)
        on = measure(tmp_path, database_url, district, audit=True)

    print(
        f"\nGraphQL throughput, 1 uvicorn worker, {CONCURRENCY} concurrent clients, best of {ROUNDS} x {DURATION:.0f} s"
    )
    print(f"{'query':34} {'audit off':>12} {'audit on':>12} {'on/off':>8}")
    for name in QUERIES:
        print(f"{name:34} {off[name]:>10.0f}/s {on[name]:>10.0f}/s {on[name] / off[name]:>8.2f}")
