"""`make bench`: the hub side by side with PostGraphile v5 and a plain Python route, same data.

Run from the repository root (`make bench` does, after `npm ci` in tests/perf/postgraphile)::

    .venv/bin/python -m tests.perf.side_by_side

1. A throwaway PostgreSQL cluster (pg_stat_statements preloaded); `hub seed --scale jinshui
   --residents 20000` into it, timed, under a master key of the run's own; a login role per
   measured system. ID and phone numbers are stored sealed: the hub and the plain route open
   them with the key ring (lookups through the blind index); PostGraphile, which cannot,
   reads a clear-text copy made for it after seeding (tests/perf/bench_numbers.py).
2. Three servers, one process each: `hub serve` (one uvicorn worker, audit on, a real token
   from /oauth/token, X-Request-Purpose), PostGraphile v5 (Node 22), the plain route.
3. Every system's answer to every query is reduced to one canonical form and must be
   identical across systems (bench_queries.canonical) before anything is measured.
4. A warm-up round (BENCH_WARMUP seconds per system and query; when that saw fewer than two
   answers per connection, BENCH_CONNECTIONS concurrent requests from Python, twice, tell
   the latency), then BENCH_ROUNDS rounds; in each, each query is put to each
   system in turn (the order rotates per round) by `wrk` with BENCH_CONNECTIONS connections
   for a fixed window: BENCH_DURATION seconds, or three of the warm-up's mean latencies when
   that is longer (at most BENCH_MAX_WINDOW), so that a window holds several answers per
   connection even from a slow server.
   The server's CPU time (/proc/PID/stat) is read before and after each window, and the
   next window waits until the server has finished what the last one left in flight. A
   window with fewer than five answers per connection takes its req/s from Little's law
   (connections / mean latency; marked ≈ in the table), since its answers came in one or
   two waves that a count would quantise.
5. Statements per request: BENCH_STATEMENT_REQUESTS sequential requests per system and
   query (ten times as many lookups), after which the system's role's pg_stat_statements
   calls (BEGIN/COMMIT included) and execution time are read, and the server's CPU time
   with one request at a time. Counting apart from the load windows keeps requests still
   in flight when a window ends out of the count.
6. The table is printed and var/bench/results.json written (BENCH_OUT to change it).

BENCH_SCALE=city adds tests/perf/city.py's 1,000,000-resident run (hub only). BENCH_RESIDENTS
changes the district's size. Nothing here asserts a speed; the exit status is 1 when an
answer was wrong or missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.perf import city
from tests.perf.bench_load import (
    LoadResult,
    ProcessMeter,
    StatementCount,
    StatementMeter,
    post,
    probe_latency,
    run_wrk,
    statement_count,
    wrk_available,
)
from tests.perf.bench_numbers import sample_lookups
from tests.perf.bench_queries import QUERIES, Lookup, canonical, requests_for
from tests.perf.bench_report import (
    Sample,
    as_json,
    cpu_ratios,
    format_table,
    git_commit,
    load_average,
    machine,
    now,
    ratios,
    summarise,
)
from tests.perf.bench_servers import (
    NODE,
    REPO_ROOT,
    ROLES,
    Seeded,
    Server,
    bench_cluster,
    hub_server,
    plain_server,
    postgraphile_server,
    prepare_roles,
    seed_district,
)

SYSTEMS = ("hub", "postgraphile", "plain")
LOOKUPS = 1000
WARM_UP_ANSWERS = 2  # per connection, so that the warm-up tells a slow server's latency


@dataclass(frozen=True)
class Config:
    residents: int
    connections: int
    rounds: int
    duration: float
    warmup: float
    max_window: float
    statement_requests: int
    city: bool
    out: Path

    @classmethod
    def from_environment(cls) -> Config:
        env = os.environ
        scale = env.get("BENCH_SCALE", "district")
        if scale not in ("district", "city"):
            raise SystemExit(f"BENCH_SCALE must be district or city, not {scale!r}")
        return cls(
            residents=int(env.get("BENCH_RESIDENTS", "20000")),
            connections=int(env.get("BENCH_CONNECTIONS", "32")),
            rounds=int(env.get("BENCH_ROUNDS", "3")),
            duration=float(env.get("BENCH_DURATION", "10")),
            warmup=float(env.get("BENCH_WARMUP", "5")),
            max_window=float(env.get("BENCH_MAX_WINDOW", "120")),
            statement_requests=int(env.get("BENCH_STATEMENT_REQUESTS", "20")),
            city=scale == "city",
            out=Path(env.get("BENCH_OUT", str(REPO_ROOT / "var" / "bench" / "results.json"))),
        )


def check_same_answers(servers: dict[str, Server], lookups: list[Lookup]) -> None:
    """Every system gives the same canonical answer to every query (a few lookups each)."""
    with httpx.Client(timeout=120) as client:
        for query in QUERIES:
            for index in range(1 if query == "page" else 5):
                answers = {}
                for name, server in servers.items():
                    request = requests_for(name, query, lookups)[index]
                    answers[name] = canonical(query, name, post(server, request, client))
                first = answers["hub"]
                if first is None or (query == "page" and not first["residents"]):
                    raise AssertionError(f"the hub found nothing for {query}: {first}")
                for name, answer in answers.items():
                    if answer != first:
                        raise AssertionError(
                            f"{name} and the hub differ on {query}:\n"
                            f"  hub: {json.dumps(first, ensure_ascii=False)[:3000]}\n"
                            f"  {name}: {json.dumps(answer, ensure_ascii=False)[:3000]}"
                        )


class Bench:
    """The measured part: warm-up, rounds, statement counts."""

    def __init__(
        self,
        config: Config,
        servers: dict[str, Server],
        lookups: list[Lookup],
        meter: StatementMeter,
        scratch: Path,
    ) -> None:
        self.config = config
        self.servers = servers
        self.lookups = lookups
        self.meter = meter
        self.scratch = scratch
        self.windows: dict[tuple[str, str], float] = {}
        self.samples: list[Sample] = []
        self.warmups: dict[str, dict[str, dict[str, Any]]] = {}
        self.memory: dict[str, dict[str, float]] = {}
        self.idle_rss = {name: ProcessMeter(s.pid).memory_mib()[0] for name, s in servers.items()}

    def load(self, system: str, query: str, seconds: float) -> tuple[LoadResult, float]:
        server = self.servers[system]
        process = ProcessMeter(server.pid)
        requests = requests_for(system, query, self.lookups)
        self.settle(system)
        before = process.cpu_seconds()
        result = run_wrk(
            server,
            requests,
            connections=self.config.connections,
            seconds=seconds,
            script_path=self.scratch / f"{system}-{query}.lua",
        )
        cpu = process.cpu_seconds() - before
        if query == "page":
            rss, peak = process.memory_mib()
            self.memory[system] = {
                "rss_mib": rss,
                "peak_mib": peak,
                "idle_rss_mib": self.idle_rss[system],
            }
        return result, cpu

    def settle(self, system: str) -> None:
        """Wait until the server has finished what the last window left in flight."""
        role = ROLES[system]
        ProcessMeter(self.servers[system].pid).wait_idle(lambda: self.meter.calls(role))

    def warm_up(self) -> None:
        """BENCH_WARMUP seconds of load per system and query; for a server that gave fewer
        than WARM_UP_ANSWERS answers per connection in that time, a latency probe besides."""
        connections = self.config.connections
        for query in QUERIES:
            for system in SYSTEMS:
                result, _cpu = self.load(system, query, self.config.warmup)
                latency = result.mean_ms / 1000
                if result.requests < WARM_UP_ANSWERS * connections:
                    self.settle(system)
                    requests = requests_for(system, query, self.lookups)
                    server = self.servers[system]
                    latency = probe_latency(server, requests, connections=connections)
                self.warmups.setdefault(query, {})[system] = {
                    "load": result,
                    "mean_latency_s": latency,
                }
                window = min(self.config.max_window, max(self.config.duration, 3 * latency))
                self.windows[system, query] = window
                _progress(
                    f"warm-up {query:13} {system:13} mean latency {1000 * latency:9.1f} ms; "
                    f"windows of {window:.0f} s"
                )

    def rounds(self) -> None:
        for number in range(self.config.rounds):
            order = SYSTEMS[number % len(SYSTEMS) :] + SYSTEMS[: number % len(SYSTEMS)]
            for query in QUERIES:
                for system in order:
                    result, cpu = self.load(system, query, self.windows[system, query])
                    self.samples.append(Sample(number, system, query, result, cpu))
                    _progress(
                        f"round {number + 1} {query:13} {system:13} {result.per_second:9.1f} req/s"
                        f"  p50 {result.p50_ms:8.1f} ms  CPU {1000 * cpu / max(result.requests, 1):7.2f} ms/req"
                        + (f"  FAILED {result.failures}" if result.failures else "")
                    )

    def count_statements(self) -> dict[tuple[str, str], StatementCount]:
        counts = {}
        with httpx.Client(timeout=120) as client:
            for query in QUERIES:
                for system in SYSTEMS:
                    counts[system, query] = statement_count(
                        self.servers[system],
                        ROLES[system],
                        requests_for(system, query, self.lookups),
                        self.config.statement_requests * (1 if query == "page" else 10),
                        self.meter,
                        client,
                    )
        return counts


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure_district(config: Config, url: str, scratch: Path) -> dict[str, Any]:
    started = time.perf_counter()
    _progress(f"seeding {config.residents:,} residents (hub seed --scale jinshui) …")
    seeded = seed_district(url, config.residents, scratch / "var")
    _progress(
        f"seeded {seeded.residents:,} residents, {seeded.rows:,} rows in {seeded.seconds:.1f} s"
    )
    copied = asyncio.run(prepare_roles(seeded))
    _progress(f"opened {copied:,} residents' ID and phone numbers into PostGraphile's clear copy")
    lookups = sample_lookups(url, seeded.field_key, LOOKUPS)
    meter = StatementMeter(url)
    try:
        with contextlib.ExitStack() as stack:
            servers = {
                "hub": stack.enter_context(hub_server(seeded, scratch / "hub")),
                "postgraphile": stack.enter_context(postgraphile_server(seeded, scratch)),
                "plain": stack.enter_context(plain_server(seeded, scratch)),
            }
            check_same_answers(servers, lookups)
            _progress("all three systems give the same answers; measuring")
            bench = Bench(config, servers, lookups, meter, scratch)
            bench.warm_up()
            bench.rounds()
            counts = bench.count_statements()
    finally:
        meter.close()
    table = summarise(bench.samples, counts)
    round_ratios = ratios(bench.samples)
    return {
        "seed": _seed_json(seeded),
        "windows_s": {f"{s}/{q}": w for (s, q), w in bench.windows.items()},
        "summary": table,
        "ratios": round_ratios,
        "cpu_ratios": {query: cpu_ratios(rows) for query, rows in table.items()},
        "memory": bench.memory,
        "statements": {f"{s}/{q}": c for (s, q), c in counts.items()},
        "samples": bench.samples,
        "warmup": bench.warmups,
        "seconds": time.perf_counter() - started,
        "_table": format_table(table, round_ratios, bench.memory),
        "_failures": sum(s.load.failures for s in bench.samples),
    }


def _seed_json(seeded: Seeded) -> dict[str, Any]:
    return {"residents": seeded.residents, "rows": seeded.rows, "seconds": seeded.seconds}


def versions() -> dict[str, str]:
    node = subprocess.run([str(NODE), "--version"], capture_output=True, text=True, check=False)
    package = json.loads(
        (NODE.parents[2] / "postgraphile" / "package.json").read_text(encoding="utf-8")
    )
    return {
        "hub_commit": git_commit(REPO_ROOT),
        "node": node.stdout.strip(),
        "postgraphile": package["version"],
        "python": sys.version.split()[0],
    }


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds the context managers: servers, cluster, files


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    config = Config.from_environment()
    if wrk_available() is None:
        print("make bench needs wrk (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    report: dict[str, Any] = {
        "date": now(),
        "machine": machine(),
        "load_average_start": load_average(),
        "config": config,
        "versions": versions(),
    }
    with tempfile.TemporaryDirectory(prefix="gridhub-bench-") as tmp, bench_cluster() as url:
        scratch = Path(tmp)
        district = measure_district(config, url, scratch)
        report["load_average_after_district"] = load_average()
        city_report = city.measure_city(config, url, scratch) if config.city else None
    report["load_average_end"] = load_average()
    table = district.pop("_table")
    failures = district.pop("_failures")
    report["district"] = district
    report["city"] = city_report
    config.out.parent.mkdir(parents=True, exist_ok=True)
    config.out.write_text(
        json.dumps(as_json(report), ensure_ascii=False, indent=1, default=str) + "\n",
        encoding="utf-8",
    )
    print(_heading(report, district))
    print(table)
    if city_report is not None:
        print(city.format_city(city_report))
    print(f"\nwritten: {config.out}")
    if failures:
        print(f"FAILED: {failures} requests were not answered right", file=sys.stderr)
        return 1
    return 0


def _heading(report: dict[str, Any], district: dict[str, Any]) -> str:
    config: Config = report["config"]
    seed = district["seed"]
    host = report["machine"]
    windows = list(district["windows_s"].values()) or [0.0]
    return (
        f"\nGridHub side by side, {report['date']} ({report['versions']['hub_commit']}), "
        f"{host['cpus']} CPUs ({host['cpu_model']}), load average "
        f"{report['load_average_start'][0]} at start, {report['load_average_after_district'][0]} after\n"
        f"{seed['residents']:,} residents ({seed['rows']:,} rows, seeded in {seed['seconds']:.1f} s) on "
        f"PostgreSQL; {config.connections} connections; {config.rounds} rounds after a warm-up; "
        f"windows of {min(windows):.0f}–{max(windows):.0f} s; one process per system\n"
    )


if __name__ == "__main__":
    sys.exit(main())
