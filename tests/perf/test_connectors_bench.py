"""Benchmark: connector throughput per kind (http, sql, files) and peak memory of a huge CSV.

Run with `make bench`. 100,000 vaccination records reach the hub through each kind — the
fake department API (cursor pages), a SQLite department table and a CSV export — into a hub
that already holds the 10,000 residents they belong to, so every record goes the whole way
(map, validate, normalise the ID number, resolve, upsert, commit with the cursor). Then a
1,000,000-row CSV is synced by `hub sync` in a subprocess whose peak RSS (its own VmHWM) is
compared with the same sync of a 10,000-row file. The table printed at the end is what
connectors/README.md records. Only correctness is asserted, never a time.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.config import parse_config
from hub.config import Settings
from hub.storage.models import Grid, Resident, RunStatus
from hub.sync import sync
from hub.vocabulary import Gender, GridLevel
from tests.connectors.department_api import FakeApi, serve
from tests.connectors.support import BASE_TIME, id_number, vaccination_record

RECORDS = 100_000
PEOPLE = 10_000
BATCH = 2_000
HUGE_CSV = 1_000_000
SMALL_CSV = 10_000
# `hub sync`, then the process's own high-water RSS (VmHWM: after exec, so not the parent's
# pages a fork shares, which getrusage's ru_maxrss of a child also counts) into argv[1].
MEASURED_SYNC = """
import resource, sys
from hub.cli import app
out = sys.argv.pop(1)
try:
    app(prog_name="hub", args=["sync"])
finally:
    with open("/proc/self/status") as status:
        hwm = [line.split()[1] for line in status if line.startswith("VmHWM:")]
    kib = int(hwm[0]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(out, "w") as handle:
        handle.write(str(kib))
"""
GRID = "410105001001001"
FIELDS: dict[str, Any] = {
    "source_record_id": "id",
    "source_updated_at": "updated_at",
    "id_number": "id_no",
    "vaccine": "vaccine",
    "dose_number": "dose",
    "administered_on": {"path": "date", "formats": ["%Y%m%d"]},
    "institution": "org",
}
HTTP_FIELDS = FIELDS | {"id_number": "person.id_no"}
COLUMNS = ("id", "updated_at", "id_no", "vaccine", "dose", "date", "org")


@dataclass(frozen=True)
class Result:
    what: str
    records: int
    seconds: float
    peak_rss_mib: float | None = None

    def row(self) -> str:
        rate = f"{self.records / self.seconds:>9,.0f}"
        rss = "" if self.peak_rss_mib is None else f"{self.peak_rss_mib:>8.0f} MiB"
        return f"{self.what:<34} {self.records:>10,} {self.seconds:>8.1f} s {rate} rec/s {rss}"


def flat_records(count: int, *, prefix: str) -> Iterator[tuple[Any, ...]]:
    """Vaccination rows as a department table or export holds them; 10 per resident."""
    start = BASE_TIME.replace(tzinfo=None)
    for n in range(count):
        stamp = (start + timedelta(seconds=n // 7)).isoformat(sep=" ")
        yield (f"{prefix}{n:07d}", stamp, id_number(n % PEOPLE), "乙肝疫苗", n % 3 + 1,
               "20240305", "金水区疾控中心")  # fmt: skip


async def seed_residents(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for code, level, parent in (
            ("410105", GridLevel.DISTRICT, None),
            ("410105001", GridLevel.STREET, "410105"),
            ("410105001001", GridLevel.COMMUNITY, "410105001"),
            (GRID, GridLevel.BUILDING, "410105001001"),
        ):
            path = "/".join(code[:n] for n in (6, 9, 12, 15) if n <= len(code)) + "/"
            row = {"code": code, "name": code, "level": level, "parent_code": parent, "path": path}
            await connection.execute(insert(Grid), [row])
        people = [
            {
                "id": f"r-{n:06d}", "id_number": id_number(n), "name": f"居民{n}",
                "gender": Gender.MALE if int(id_number(n)[16]) % 2 else Gender.FEMALE,
                "birth_date": BASE_TIME.date(), "grid_code": GRID,
                "grid_path": "410105/410105001/410105001001/410105001001001/",
            }
            for n in range(PEOPLE)
        ]  # fmt: skip
        await connection.execute(insert(Resident), people)


def write_csv(path: Path, count: int, prefix: str) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(flat_records(count, prefix=prefix))
    return path


def write_table(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE vacc (id TEXT PRIMARY KEY, updated_at TEXT, id_no TEXT, vaccine TEXT, "
            "dose INTEGER, date TEXT, org TEXT)"
        )
        db.executemany(
            "INSERT INTO vacc VALUES (?, ?, ?, ?, ?, ?, ?)", flat_records(RECORDS, prefix="S")
        )
    return path


def stream(**where: Any) -> dict[str, Any]:
    return {"target": "vaccination", "batch_size": BATCH, "fields": FIELDS, **where}


def connectors(tmp: Path, api: FakeApi) -> dict[str, Any]:
    exports = tmp / "exports"
    exports.mkdir()
    write_csv(exports / "vaccinations.csv", RECORDS, "F")
    http_stream = stream(
        path="/cursor", fields=HTTP_FIELDS,
        pagination={"style": "cursor", "size_param": "limit", "page_size": BATCH},
    )  # fmt: skip
    return {
        "bench_http": {"kind": "http", "base_url": api.base_url, "streams": {"v": http_stream}},
        "bench_sql": {
            "kind": "sql",
            "url": f"sqlite+aiosqlite:///{write_table(tmp / 'department.db')}",
            "streams": {"v": stream(table="vacc", watermark_column="updated_at", key_column="id")},
        },
        "bench_files": {
            "kind": "files",
            "directory": str(exports),
            "streams": {"v": stream(pattern="*.csv")},
        },
    }


async def throughput(settings: Settings, engine: AsyncEngine, tmp: Path) -> list[Result]:
    results = []
    with serve(FakeApi()) as api:
        api.records = [
            vaccination_record(n, person=n % PEOPLE, id=f"H{n:07d}") for n in range(RECORDS)
        ]
        config = parse_config({"connectors": connectors(tmp, api)})
        for name in config.connectors:
            started = time.perf_counter()
            (summary,) = await sync(settings, engine, connectors=[name], config=config, env={})
            seconds = time.perf_counter() - started
            assert summary.status is RunStatus.SUCCEEDED, summary.error
            assert (summary.counts.read, summary.counts.inserted) == (RECORDS, RECORDS)
            results.append(Result(f"{name.removeprefix('bench_')} kind", RECORDS, seconds))
    return results


def peak_rss_of_sync(database_url: str, tmp: Path, rows: int) -> Result:
    """Sync a `rows`-row CSV with `hub sync` in a subprocess; its time and peak RSS."""
    directory = tmp / f"csv{rows}"
    directory.mkdir()
    write_csv(directory / "big.csv", rows, f"M{rows}-")
    toml = tmp / f"csv{rows}.toml"
    source = {
        "kind": "files",
        "directory": str(directory),
        "streams": {"v": stream(pattern="*.csv")},
    }
    toml.write_text(_toml({f"files_{rows}": source}), encoding="utf-8")
    env = {**os.environ, "HUB_DATABASE_URL": database_url, "HUB_CONNECTORS": str(toml)}
    peak = tmp / f"peak{rows}.kib"
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-c", MEASURED_SYNC, str(peak)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    peak_mib = int(peak.read_text()) / 1024
    return Result(f"files kind, {rows:,}-row CSV (process)", rows, seconds, peak_mib)


def _toml(connectors: dict[str, Any]) -> str:
    """TOML for one files connector (JSON strings and arrays are valid TOML values)."""
    lines = []
    for name, source in connectors.items():
        lines += [
            f"[connectors.{name}]",
            'kind = "files"',
            f"directory = {json.dumps(source['directory'])}",
        ]
        for stream_name, config in source["streams"].items():
            lines += [f"[connectors.{name}.streams.{stream_name}]"]
            lines += [f"{k} = {json.dumps(v)}" for k, v in config.items() if k != "fields"]
            lines += [f"[connectors.{name}.streams.{stream_name}.fields]"]
            lines += [f"{k} = {_inline(v)}" for k, v in config["fields"].items()]
    return "\n".join(lines) + "\n"


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


async def test_connector_throughput_per_kind_and_peak_memory_of_a_huge_csv(
    settings: Settings, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await seed_residents(engine)
    results = await throughput(settings, engine, tmp_path)
    results.append(peak_rss_of_sync(database_url, tmp_path, SMALL_CSV))
    results.append(peak_rss_of_sync(database_url, tmp_path, HUGE_CSV))
    backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(f"\n\nconnector throughput into the hub ({backend}, batches of {BATCH:,}):")
    print(f"{'':<34} {'records':>10} {'time':>10} {'rate':>15} {'peak RSS':>12}")
    for result in results:
        print(result.row())
