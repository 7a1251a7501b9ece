"""Benchmark: what the limits and the cost analysis cost, on the 100-resident page.

Run with `make bench`. Three `hub serve` processes over the same seeded database: `on` (the
defaults), `off` with HUB_LIMITS_ENABLED=false (no HTTP limits, no document limits, no cost
analysis, no budget spending, no load shedding: what the hub did before them), and
`control`, a second `off`, so that the spread between two identical servers is measured
beside the difference. They take the same load from one client process in rounds whose
order rotates, so that the machine's changing load falls on all alike. Eight callers, the
default requests in flight: no request ever waits in the admission queue.

Two measures, since throughput on a shared 2-core machine varies by ±20 % between rounds:

1. CPU per request: each server's process CPU time (/proc/<pid>/stat, user + system) over a
   round, divided by the requests it answered in it; medians of the rounds.
2. The limits' own share of the `on` server's CPU: py-spy samples it under the same load,
   and a sample counts for the limits when the innermost of the hub's own frames on its
   stack is limits code (hub/limits/, schema/cost.py, schema/rules/limits.py), library
   code called from there included.

The tables printed at the end are what README's performance section records. Nothing here
asserts a time.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
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
SIDES = ("on", "off", "control")
PROFILE_SECONDS = 20.0
PROFILE_RATE = 200  # samples a second
LIMITS_CODE = ("hub/limits/", "schema/cost.py", "schema/rules/limits.py")
OWN_PACKAGES = ("hub/", "schema/", "connectors/")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    failures: int
    cpu_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds * 1000 / max(self.requests, 1)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime: fields 14 and 15


async def load(url: str, headers: dict[str, str], *, duration: float = DURATION) -> Measurement:
    done = failures = 0
    deadline = time.perf_counter() + duration
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


def measured_round(pid: int, url: str, headers: dict[str, str]) -> Measurement:
    before = process_cpu(pid)
    measurement = asyncio.run(load(url, headers))
    cpu = process_cpu(pid) - before
    return Measurement(measurement.requests, measurement.seconds, measurement.failures, cpu)


def _own_file(frame: str) -> str | None:
    """The file of a py-spy frame `function (path:line)` if it is the hub's own code (py-spy
    names files relative to their sys.path entry: `hub/limits/asgi.py`, `starlette/…`)."""
    location = frame.rpartition(" (")[2].rstrip(")").rpartition(":")[0]
    return location if location.startswith(OWN_PACKAGES) else None


def limits_share(raw: str) -> tuple[int, Counter[str]]:
    """Samples in all, and those whose innermost hub frame is limits code, per file."""
    total, limits = 0, Counter[str]()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        total += int(count)
        own = [f for f in (_own_file(frame) for frame in stack.split(";")) if f is not None]
        if own and own[-1].startswith(LIMITS_CODE):
            limits[own[-1]] += int(count)
    return total, limits


def profile(pid: int, url: str, headers: dict[str, str], output: Path) -> str | None:
    """py-spy's raw samples of `pid` while it takes the load; None without py-spy."""
    beside = Path(sys.executable).parent / "py-spy"  # installed with the test tools
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if spy is None:
        return None
    command = [
        spy, "record", "--pid", str(pid), "--duration", str(int(PROFILE_SECONDS)),
        "--rate", str(PROFILE_RATE), "--format", "raw", "--nonblocking", "-o", str(output),
    ]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as spying:
        time.sleep(1.0)  # attached
        asyncio.run(load(url, headers, duration=PROFILE_SECONDS))
        _, errors = spying.communicate(timeout=60)
    if spying.returncode != 0 or not output.exists():
        print(f"py-spy failed ({spying.returncode}): {errors.decode(errors='replace')[-500:]}")
        return None
    return output.read_text(encoding="utf-8")


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
            for side in SIDES
        }
        headers = {side: hub.caller_headers("bench_reader") for side, hub in hubs.items()}
        for side, hub in hubs.items():  # warm-up: plans, caches, connections
            asyncio.run(load(hub.url, headers[side]))
        runs: dict[str, list[Measurement]] = {side: [] for side in SIDES}
        for round_ in range(ROUNDS):
            order = SIDES[round_ % 3 :] + SIDES[: round_ % 3]
            for side in order:
                hub = hubs[side]
                runs[side].append(measured_round(hub.pid, hub.url, headers[side]))
        raw = profile(hubs["on"].pid, hubs["on"].url, headers["on"], tmp_path / "on.spy")

    assert all(run.failures == 0 for side in runs.values() for run in side), runs
    report(runs, raw)


def _median(runs: list[Measurement], value: str) -> float:
    return float(statistics.median(getattr(run, value) for run in runs))


def report(runs: dict[str, list[Measurement]], raw: str | None) -> None:
    on, off, control = runs["on"], runs["off"], runs["control"]
    load_average = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"\n100-resident page, four profiles: 1 uvicorn worker each, {CONCURRENCY} callers, "
        f"{ROUNDS} rotating rounds of {DURATION:.0f} s (load average {load_average})"
    )
    print(
        f"{'round':>5} | {'req/s off':>9} {'on':>7} {'control':>7} | "
        f"{'CPU ms/req off':>14} {'on':>6} {'control':>7} | {'on/off':>6} {'ctl/off':>7}"
    )
    for index, (a, b, c) in enumerate(zip(on, off, control, strict=True), 1):
        print(
            f"{index:>5} | {b.per_second:>9.1f} {a.per_second:>7.1f} {c.per_second:>7.1f} | "
            f"{b.cpu_ms_per_request:>14.1f} {a.cpu_ms_per_request:>6.1f} "
            f"{c.cpu_ms_per_request:>7.1f} | "
            f"{a.cpu_ms_per_request / b.cpu_ms_per_request:>6.3f} "
            f"{c.cpu_ms_per_request / b.cpu_ms_per_request:>7.3f}"
        )
    cpu = {side: _median(runs[side], "cpu_ms_per_request") for side in runs}
    rate = {side: _median(runs[side], "per_second") for side in runs}
    print(
        f"{'median':>5} | {rate['off']:>9.1f} {rate['on']:>7.1f} {rate['control']:>7.1f} | "
        f"{cpu['off']:>14.1f} {cpu['on']:>6.1f} {cpu['control']:>7.1f} | "
        f"{cpu['on'] / cpu['off']:>6.3f} {cpu['control'] / cpu['off']:>7.3f}"
    )
    print(
        f"CPU per request, limits on vs off: {cpu['on'] / cpu['off'] - 1:+.1%} "
        f"(control vs off: {cpu['control'] / cpu['off'] - 1:+.1%}; target ≤ +5 %)"
    )
    if raw is None:
        print("limits' share of the CPU: not measured (py-spy missing or not allowed)")
        return
    total, limits = limits_share(raw)
    share = sum(limits.values()) / max(total, 1)
    print(
        f"limits' own share of the `on` server's CPU (py-spy, {PROFILE_SECONDS:.0f} s at "
        f"{PROFILE_RATE}/s, {total} samples): {share:.1%}"
    )
    for name, count in limits.most_common():
        print(f"  {name:<32} {count / max(total, 1):>6.2%}")
