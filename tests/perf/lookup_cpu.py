"""CPU per lookup (by id, by ID number) of this checkout's hub against another checkout's, side by side.

Run from the repository root::

    git archive main hub schema connectors alembic alembic.ini | tar -x -C /tmp/lean-base
    BENCH_BASE=/tmp/lean-base .venv/bin/python -m tests.perf.lookup_cpu

A throwaway PostgreSQL cluster seeded as `make bench` seeds it (BENCH_RESIDENTS, 2,000 here),
one `hub serve` of this checkout ("this") and, with BENCH_BASE=DIR, one of the code exported
into DIR ("base", through PYTHONPATH), both running at once with the bench's settings. Then
BENCH_ROUNDS (3) rounds in which each server is loaded in turn (the order rotating) by wrk
with BENCH_CONNECTIONS (32) connections for BENCH_DURATION (10) seconds per query, after a
warm-up window each. Before measuring, both servers' answers to every lookup must be
byte-identical. Printed per server and query: median req/s and CPU ms per request
(/proc/PID/stat, every thread) and, per round, this/base CPU ratios. BENCH_PYSPY=FILE records
a py-spy profile (raw, collapsed stacks) of "this" on the by-id lookup in the last round.
Nothing is asserted; the figures go into README's performance section.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

from tests.perf.bench_load import measured_window
from tests.perf.bench_numbers import sample_lookups
from tests.perf.bench_queries import Request, requests_for
from tests.perf.bench_servers import Server, bench_cluster, hub_server, seed_district

QUERIES = ("by_id", "by_id_number")


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _same_answers(servers: dict[str, Server], requests: list[Request]) -> None:
    if len(servers) < 2:
        return
    with httpx.Client(timeout=30) as client:
        for request in requests:
            bodies = {
                name: client.post(
                    server.url + request.path, content=request.body, headers=dict(server.headers)
                ).content
                for name, server in servers.items()
            }
            first, *rest = bodies.values()
            if any(body != first for body in rest):
                raise AssertionError(f"answers differ: {bodies}")
            if json.loads(first).get("errors"):
                raise AssertionError(f"answered with errors: {first!r}")


def main() -> int:
    env = os.environ
    residents = int(env.get("BENCH_RESIDENTS", "2000"))
    connections = int(env.get("BENCH_CONNECTIONS", "32"))
    rounds = int(env.get("BENCH_ROUNDS", "3"))
    duration = float(env.get("BENCH_DURATION", "10"))
    profile = env.get("BENCH_PYSPY")
    variants: dict[str, dict[str, str]] = {"this": {}}
    if base := env.get("BENCH_BASE"):
        variants["base"] = {"PYTHONPATH": base}
    names = list(variants)
    with tempfile.TemporaryDirectory(prefix="gridhub-lookup-") as tmp, bench_cluster() as url:
        scratch = Path(tmp)
        _progress(f"seeding {residents:,} residents …")
        seeded = seed_district(url, residents, scratch / "var")
        lookups = sample_lookups(url, seeded.field_key, 200)
        with contextlib.ExitStack() as stack:
            servers: dict[str, Server] = {
                name: stack.enter_context(
                    hub_server(seeded, scratch / f"hub-{name}", **variants[name])
                )
                for name in names
            }
            for query in QUERIES:
                _same_answers(servers, requests_for("hub", query, lookups)[:50])
            _progress("same answers; measuring")
            samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for number in range(-1, rounds):  # round -1: the warm-up
                order = names[number % len(names) :] + names[: number % len(names)]
                for query in QUERIES:
                    requests = requests_for("hub", query, lookups)
                    for name in order:
                        server = servers[name]
                        last = number == rounds - 1 and name == "this" and query == "by_id"
                        result, per_request = measured_window(
                            server,
                            requests,
                            connections=connections,
                            seconds=duration,
                            script_path=scratch / f"{query}.lua",
                            profile=profile if last else None,
                        )
                        _progress(
                            f"round {number + 1} {query:13} {name:5} {result.per_second:7.1f} req/s "
                            f"CPU {per_request:6.3f} ms/req"
                            + (f"  FAILED {result.failures}" if result.failures else "")
                        )
                        if number >= 0:
                            samples.setdefault((name, query), []).append(
                                (result.per_second, per_request)
                            )
            print(f"\n{residents:,} residents, {connections} connections, {rounds} rounds of "
                  f"{duration:.0f} s, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
            print("| query | hub | req/s | CPU ms/req |")
            print("|---|---|---:|---:|")
            for query in QUERIES:
                for name in names:
                    rate, cpu = (
                        statistics.median(c) for c in zip(*samples[name, query], strict=True)
                    )
                    print(f"| {query} | {name} | {rate:.0f} | {cpu:.3f} |")
                if "base" in names:
                    per_round = [
                        this[1] / base[1]
                        for this, base in zip(
                            samples["this", query], samples["base", query], strict=True
                        )
                    ]
                    print(f"| {query} | this/base CPU per round | "
                          f"{' '.join(f'{r:.2f}' for r in per_round)} | {statistics.median(per_round):.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
