"""Summaries of `make bench` runs: the table it prints and the JSON it writes (var/bench/results.json).

Per system and query: req/s, p50 and p99 are medians over the measured rounds; CPU per
request is the server process's CPU seconds over all rounds divided by all requests
answered in them; statements and SQL time per request come from a separate sequential pass
(see side_by_side.count_statements). A ratio is the median over rounds of that round's ratio:
systems of one round ran back to back, so a round's ratio is the least disturbed by
whatever else the machine was doing.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.perf.bench_load import LoadResult, StatementCount
from tests.perf.bench_queries import QUERIES, TITLES

SYSTEM_TITLES = {"hub": "hub", "postgraphile": "PostGraphile v5", "plain": "plain route"}


@dataclass(frozen=True)
class Sample:
    """One measured window: a system answering one query for one round."""

    round: int
    system: str
    query: str
    load: LoadResult
    cpu_seconds: float


@dataclass
class Row:
    req_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    statements_per_request: float | None
    sql_ms_per_request: float | None
    cpu_ms_alone: float | None
    failures: int
    empty_windows: int = 0
    counted: bool = True
    rounds: list[float] = field(default_factory=list)


def summarise(
    samples: list[Sample], counts: dict[tuple[str, str], StatementCount]
) -> dict[str, dict[str, Row]]:
    table: dict[str, dict[str, Row]] = {}
    for query in QUERIES:
        for system in SYSTEM_TITLES:
            mine = [s for s in samples if s.system == system and s.query == query]
            if not mine:
                continue
            requests = sum(s.load.requests for s in mine)
            count = counts.get((system, query))
            table.setdefault(query, {})[system] = Row(
                req_per_s=statistics.median(s.load.per_second for s in mine),
                p50_ms=statistics.median(s.load.p50_ms for s in mine),
                p99_ms=statistics.median(s.load.p99_ms for s in mine),
                cpu_ms_per_request=1000 * sum(s.cpu_seconds for s in mine) / max(requests, 1),
                statements_per_request=count.statements if count else None,
                sql_ms_per_request=count.sql_ms if count else None,
                cpu_ms_alone=count.cpu_ms if count else None,
                failures=sum(s.load.failures for s in mine),
                empty_windows=sum(1 for s in mine if s.load.requests == 0),
                counted=all(s.load.counted for s in mine),
                rounds=[round(s.load.per_second, 2) for s in mine],
            )
    return table


def ratios(samples: list[Sample]) -> dict[str, dict[str, list[float]]]:
    """Per query, `hub/postgraphile` and `hub/plain` req/s ratios, one per round."""
    result: dict[str, dict[str, list[float]]] = {}
    for query in QUERIES:
        per_round: dict[int, dict[str, float]] = {}
        for s in samples:
            if s.query == query:
                per_round.setdefault(s.round, {})[s.system] = s.load.per_second
        for other in ("postgraphile", "plain"):
            values = [
                r["hub"] / r[other] for r in per_round.values() if "hub" in r and r.get(other)
            ]
            result.setdefault(query, {})[f"hub/{other}"] = values
    return result


def cpu_ratios(rows: dict[str, Row]) -> dict[str, float]:
    """`hub/other` as the other's CPU per request over the hub's: like req/s, 1 is parity.

    Less disturbed by a busy machine than req/s: CPU time is only counted while running.
    """
    hub = rows.get("hub")
    if hub is None or not hub.cpu_ms_per_request:
        return {}
    return {
        f"hub/{name}": row.cpu_ms_per_request / hub.cpu_ms_per_request
        for name, row in rows.items()
        if name != "hub"
    }


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                "",
            )
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_mib": _meminfo_mib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _meminfo_mib() -> int:
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            return int(meminfo.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return 0


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def git_commit(root: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def format_table(
    table: dict[str, dict[str, Row]],
    round_ratios: dict[str, dict[str, list[float]]],
    memory: dict[str, dict[str, float]],
) -> str:
    header = (
        f"{'':24}{'req/s':>9}{'p50 ms':>10}{'p99 ms':>10}{'CPU ms/req':>12}{'alone':>8}"
        f"{'stmts/req':>11}{'SQL ms/req':>12}{'failed':>8}"
    )
    lines = [header]
    for query in QUERIES:
        if query not in table:
            continue
        lines.append(TITLES[query])
        for system, row in table[query].items():
            lines.append(
                f"  {SYSTEM_TITLES[system]:22}"
                f"{('' if row.counted else '≈') + _num(row.req_per_s):>9}{_num(row.p50_ms):>10}"
                f"{_num(row.p99_ms):>10}{_num(row.cpu_ms_per_request, 2):>12}"
                f"{_num(row.cpu_ms_alone, 2):>8}"
                f"{_num(row.statements_per_request):>11}{_num(row.sql_ms_per_request, 2):>12}"
                f"{row.failures:>8}"
            )
        parts = []
        for name, values in round_ratios.get(query, {}).items():
            median = _median(values)
            rounds = " ".join(f"{v:.3g}" for v in values)
            if median is not None:
                parts.append(
                    f"{name.replace('postgraphile', 'PostGraphile')} {median:.3g}× ({rounds})"
                )
        if parts:
            lines.append("  ratios (median of rounds): " + "; ".join(parts))
        cpu = cpu_ratios(table[query])
        if cpu:
            lines.append(
                "  by CPU per request: "
                + "; ".join(
                    f"{name.replace('postgraphile', 'PostGraphile')} {value:.3g}×"
                    for name, value in cpu.items()
                )
            )
    if any(row.empty_windows for rows in table.values() for row in rows.values()):
        lines.append(
            "WARNING: some windows held no answer at all (their req/s is 0): raise BENCH_MAX_WINDOW"
        )
    if any(not row.counted for rows in table.values() for row in rows.values()):
        lines.append(
            "≈ too few answers per connection in a window: req/s = connections / mean latency"
        )
    if memory:
        lines.append("memory after the page rounds (VmRSS now / VmHWM peak, MiB):")
        for system, sizes in memory.items():
            lines.append(
                f"  {SYSTEM_TITLES[system]:22}{sizes['rss_mib']:>9.0f}{sizes['peak_mib']:>10.0f}"
                f"   (idle before load: {sizes['idle_rss_mib']:.0f})"
            )
    return "\n".join(lines)


def as_json(value: Any) -> Any:
    """Dataclasses and nested containers as JSON-ready values."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: as_json(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, float):
        return round(value, 4)
    return value
