"""The 100-resident page under load with several garbage-collector settings, in one run.

Run from the repository root::

    .venv/bin/python -m tests.perf.gc_page

A throwaway PostgreSQL cluster seeded as `make bench` seeds it (BENCH_RESIDENTS, 20,000),
then one `hub serve` per setting in `VARIANTS` (HUB_GC_THRESHOLD, HUB_GC_FREEZE), all
running at once; BENCH_ROUNDS (3) rounds in which each is loaded in turn (the order rotates)
by wrk with BENCH_CONNECTIONS (32) connections for BENCH_DURATION (20) seconds, after a
warm-up window each. Printed per setting: median req/s, p50, p99, CPU ms per request and
the worker's peak resident memory (VmHWM) once every round has run. BENCH_VARIANTS picks
settings by name (comma-separated); BENCH_PYSPY=FILE records a py-spy profile (raw,
collapsed stacks) of the first one during its last window. BENCH_BASE=DIR adds a setting
"base": the default settings with the code exported into DIR (`git archive`), through
PYTHONPATH, to compare code before and after in one run.
Nothing is asserted; the figures go into README's performance section.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

from tests.perf.bench_load import ProcessMeter, measured_window
from tests.perf.bench_queries import requests_for
from tests.perf.bench_servers import Server, bench_cluster, hub_server, seed_district

VARIANTS = {
    "700-no-freeze": {"HUB_GC_THRESHOLD": "700", "HUB_GC_FREEZE": "false"},  # Python's own
    "freeze-10k": {"HUB_GC_THRESHOLD": "10000"},
    "freeze-50k": {"HUB_GC_THRESHOLD": "50000"},  # the default
    "freeze-200k": {"HUB_GC_THRESHOLD": "200000"},
}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    env = os.environ
    residents = int(env.get("BENCH_RESIDENTS", "20000"))
    connections = int(env.get("BENCH_CONNECTIONS", "32"))
    rounds = int(env.get("BENCH_ROUNDS", "3"))
    duration = float(env.get("BENCH_DURATION", "20"))
    profile = env.get("BENCH_PYSPY")
    if base := env.get("BENCH_BASE"):  # another checkout's code, e.g. `git archive main`
        VARIANTS["base"] = {"PYTHONPATH": base}
    names = env.get("BENCH_VARIANTS", ",".join(VARIANTS)).split(",")
    if not names or any(name not in VARIANTS for name in names):
        raise SystemExit(f"BENCH_VARIANTS names some of {', '.join(VARIANTS)}")
    with tempfile.TemporaryDirectory(prefix="gridhub-gc-") as tmp, bench_cluster() as url:
        scratch = Path(tmp)
        _progress(f"seeding {residents:,} residents …")
        seeded = seed_district(url, residents, scratch / "var")
        requests = requests_for("hub", "page", [])
        with contextlib.ExitStack() as stack:
            servers: dict[str, Server] = {
                name: stack.enter_context(
                    hub_server(seeded, scratch / f"hub{index}", **VARIANTS[name])
                )
                for index, name in enumerate(names)
            }
            samples: dict[str, list[tuple[float, float, float, float]]] = {n: [] for n in names}
            for number in range(-1, rounds):  # round -1: the warm-up
                order = names[number % len(names) :] + names[: number % len(names)]
                for name in order:
                    server = servers[name]
                    last = number == rounds - 1 and name == names[0]
                    result, per_request = measured_window(
                        server,
                        requests,
                        connections=connections,
                        seconds=duration,
                        script_path=scratch / "page.lua",
                        profile=profile if last else None,
                    )
                    _progress(
                        f"round {number + 1} {name:34} {result.per_second:7.1f} req/s "
                        f"p50 {result.p50_ms:7.0f} ms  CPU {per_request:6.2f} ms/req"
                        + (f"  FAILED {result.failures}" if result.failures else "")
                    )
                    if number >= 0:
                        sample = (result.per_second, result.p50_ms, result.p99_ms, per_request)
                        samples[name].append(sample)
            print(f"\n{residents:,} residents, {connections} connections, {rounds} rounds of "
                  f"{duration:.0f} s, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
            print("| setting | req/s | p50 ms | p99 ms | CPU ms/req | VmHWM MiB |")
            print("|---|---:|---:|---:|---:|---:|")
            for name in names:
                columns = list(zip(*samples[name], strict=True))
                rate, p50, p99, cpu = (statistics.median(c) for c in columns)
                _rss, peak = ProcessMeter(servers[name].pid).memory_mib()
                print(f"| {name} | {rate:.1f} | {p50:,.0f} | {p99:,.0f} | {cpu:.2f} | {peak:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
