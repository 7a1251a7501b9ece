"""Benchmarks: GraphQL throughput with the audit trail on and off, and `hub audit verify`.

Run with `make bench`. Two `hub serve` processes over the same seeded database, one with
HUB_AUDIT_ENABLED=false, the other with the trail and its signed checkpoints on (defaults:
every 1,000 events or 60 s, to a folder and the database), run side by side and take the
same load from one client process in alternating rounds (off, on, on, off, …), so drift in
the machine's load hits both alike; `median` is the median of the rounds' on/off ratios.
Requests per CPU-second of the server process are printed too: on a machine shared with
other work they show the trail's cost better than wall-clock throughput does. The tables printed at the end are what README's
performance section records. Nothing here asserts a time.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from hub.audit.records import AuditRecord, Outcome
from hub.audit.trail import AuditTrail
from hub.config import Settings
from hub.storage import migrations
from hub.storage.base import utcnow
from hub.storage.session import create_engine
from tests.e2e.conftest import (
    HUB_BIN,
    LiveHub,
    district_code,
    e2e_database,
    run_hub,
    seed_database,
)
from tests.security.conftest import write_policy

QUERIES = {
    "me": "{ me { clientId } }",
    "resident page (20, 3 profiles)": (
        "{ residents(first: 20) { edges { node { id name age grid { name } "
        "health { familyDoctor { doctorName } } socialSecurity { insuranceEnrollments { insuranceType } } "
        "} } } }"
    ),
}
# The service-center clerk's scopes with a budget no round spends: the limits stay on for both
# servers, but the shipped 100,000 a minute would answer most pages with 429 (RATE_LIMITED).
BENCH_ROLE = """

[roles.bench_clerk]
description = "benchmark only: a service-center clerk's scopes, an endless budget"
scopes = [
  "resident:basic", "resident:pii", "grid:read", "health:read", "social:read",
  "education:read", "police:read", "cases:read", "cases:write",
]
row_scope = "grid"
cost_budget_per_minute = 1_000_000_000_000
"""
CONCURRENCY = 32
DURATION = 6.0
ROUNDS = 6
VERIFY_EVENTS = 100_000


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    failures: int
    cpu_seconds: float  # the server's: robust to other load on a shared machine

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.requests / self.cpu_seconds


async def load(hub: LiveHub, headers: dict[str, str], query: str) -> Measurement:
    url = hub.url
    cpu = _cpu_seconds(hub.pid)
    done = failures = 0
    deadline = time.perf_counter() + DURATION
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal done, failures
            while time.perf_counter() < deadline:
                try:
                    response = await client.post(
                        f"{url}/graphql", json={"query": query}, headers=headers
                    )
                except (httpx.ReadError, httpx.RemoteProtocolError):
                    continue  # a kept-alive connection the server had just closed: not a failure
                done += 1
                failures += response.status_code != 200 or "errors" in response.json()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        seconds = time.perf_counter() - started
        return Measurement(done, seconds, failures, _cpu_seconds(hub.pid) - cpu)


def test_throughput_with_audit_on_and_off(tmp_path: Path) -> None:
    with e2e_database(tmp_path) as database_url:
        seed_database(database_url, tmp_path / "var")
        district = district_code(database_url)
        # The seed's master key (generated into its var dir in dev) for both servers, whose
        # var dirs differ: without it each would make its own and open no sealed value.
        field_key = (tmp_path / "var" / "field.key").read_text(encoding="utf-8").strip()
        policy = tmp_path / "bench-policy"
        policy.mkdir()
        env = {
            "HUB_TOKEN_TTL_SECONDS": "3600",
            "HUB_FIELD_KEY": field_key,
            "HUB_POLICY": str(write_policy(policy, BENCH_ROLE)),
        }
        with (
            run_hub(database_url, tmp_path / "off", HUB_AUDIT_ENABLED="false", **env) as off,
            run_hub(database_url, tmp_path / "on", HUB_AUDIT_ENABLED="true", **env) as on,
        ):
            hubs = {"off": off, "on": on}
            headers = {
                name: hub.caller_headers("bench_clerk", grid=district) for name, hub in hubs.items()
            }
            rounds = {name: _alternating(hubs, headers, query) for name, query in QUERIES.items()}
            checkpoints = list((tmp_path / "on" / "var" / "audit-checkpoints").glob("*.jsonl"))
            signed = sum(len(path.read_text().splitlines()) for path in checkpoints)

    print(
        f"\nGraphQL throughput, 1 uvicorn worker each, {CONCURRENCY} concurrent clients, "
        f"{ROUNDS} alternating rounds x {DURATION:.0f} s each; checkpoints on "
        f"(every 1,000 events or 60 s; {signed} signed during the run); load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'query':32} {'off req/s':>9} {'on req/s':>9} {'best':>6} {'median':>6}"
        f"   {'off req/cpu-s':>13} {'on req/cpu-s':>12} {'median':>6}"
    )
    for name, (off_runs, on_runs) in rounds.items():
        rate = _summary([r.per_second for r in off_runs], [r.per_second for r in on_runs])
        cpu = _summary([r.per_cpu_second for r in off_runs], [r.per_cpu_second for r in on_runs])
        print(
            f"{name:32} {rate[0]:>7.0f}/s {rate[1]:>7.0f}/s {rate[2]:>6.2f} {rate[3]:>6.2f}"
            f"   {cpu[0]:>13.0f} {cpu[1]:>12.0f} {cpu[3]:>6.2f}"
        )


def _summary(off: list[float], on: list[float]) -> tuple[float, float, float, float]:
    """Best off, best on, best/best, and the median of the rounds' on/off ratios."""
    ratios = sorted(b / a for a, b in zip(off, on, strict=True))
    return max(off), max(on), max(on) / max(off), ratios[len(ratios) // 2]


def _alternating(
    hubs: dict[str, LiveHub], headers: dict[str, dict[str, str]], query: str
) -> tuple[list[Measurement], list[Measurement]]:
    """Each round's measurement, off and on, in rounds run off-on, on-off, …"""
    for name, hub in hubs.items():  # warm-up
        asyncio.run(load(hub, headers[name], query))
    runs: dict[str, list[Measurement]] = {"off": [], "on": []}
    for round_number in range(ROUNDS):
        for name in ("off", "on") if round_number % 2 == 0 else ("on", "off"):
            run = asyncio.run(load(hubs[name], headers[name], query))
            assert run.failures == 0, run
            runs[name].append(run)
    return runs["off"], runs["on"]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _fill(database_url: str, settings: Settings, events: int) -> None:
    """`events` events through the real writer (batches of 500), checkpointed as it goes."""
    engine = create_engine(database_url)
    trail = AuditTrail.create(settings, engine)
    record = AuditRecord(
        at=utcnow(),
        request_id="bench",
        endpoint="graphql",
        outcome=Outcome.OK,
        duration_us=1000,
        client_id="gh_bench",
        roles=["service_center_clerk"],
        scopes=["resident:basic", "resident:pii"],
        purpose="benchmark",
        operation_type="query",
        document_hash="0" * 64,
        variables={"first": 20},
        resident_ids=["r-000001", "r-000002"],
        fields=["Resident.idNumber"],
    )
    for start in range(0, events, 500):
        batch = [replace(record, at=utcnow()) for _ in range(min(500, events - start))]
        await asyncio.gather(*(trail.writer.append(one) for one in batch))
    await trail.stop()
    await engine.dispose()


def test_time_to_verify_the_trail(tmp_path: Path) -> None:
    with e2e_database(tmp_path) as database_url:
        migrations.upgrade(database_url)
        settings = Settings(database_url=database_url, var_dir=tmp_path / "var")
        asyncio.run(_fill(database_url, settings, VERIFY_EVENTS))
        env = {"HUB_DATABASE_URL": database_url, "HUB_VAR_DIR": str(tmp_path / "var")}
        command = [str(HUB_BIN), "audit", "verify", "--json", "--checkpoints"]
        started = time.perf_counter()
        result = subprocess.run(
            [*command, str(settings.audit_checkpoint_path)],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("HUB_")}, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started

    assert result.returncode == 0, result.stderr
    [chain] = json.loads(result.stdout)["chains"]
    print(
        f"\nhub audit verify --checkpoints: {chain['events']:,} events (2 residents each), "
        f"{chain['checkpoints']} checkpoints, {seconds:.1f} s "
        f"({chain['events'] / seconds:,.0f} events/s)",
        file=sys.stderr,
    )
