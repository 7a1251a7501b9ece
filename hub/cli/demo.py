"""`hub demo`: the department simulators, pulled in through the connectors, served with the consoles.

Before any work it checks that its port is free (suggesting `--port`/`HUB_PORT` when not),
and the token issuer follows the port. Demos on different ports may run side by side on one
database: the set-up (migrate, grid tree, sync, month of work, clients, accounts) runs under
a file lock, each demo runs its own simulators (`<var>/demo-sources/<port>`), and a demo
revokes only the OAuth clients of an earlier demo on its own port.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.cli.serve import serve
from hub.cli_support import (
    CommandError,
    one_line_errors,
    run_with_engine,
    settings_from_environment,
)
from hub.config import Settings
from hub.storage import migrations

app = typer.Typer()
console = Console(stderr=True)
BAD_RECORDS_PER_STREAM = 2  # a few records in quarantine, so its console has something to show


@app.command()
def demo(
    residents: Annotated[int, typer.Option(min=1, help="Residents in the demo district.")] = 2000,
    port: Annotated[int | None, typer.Option(help="Port (HUB_PORT).")] = None,
) -> None:
    """Start the department simulators, pull them in through the connectors, serve with the consoles.

    Migrates; writes the district's grid tree if the database is empty (residents come from
    the police register); runs the simulators under <var>/demo-sources/<port> until the hub
    stops; writes <var>/demo/README.md and <var>/demo.env.
    """
    with one_line_errors():
        settings = settings_from_environment()
        chosen = port or settings.port
        _check_port(settings.host, chosen)
        _follow_port(settings.host, chosen)
        settings = settings_from_environment()
        with _setup_lock(settings.var_dir):
            migrations.upgrade(settings.database_url, settings=settings)
            if not _has_district(settings):
                _run_grid_tree(settings)
            simulators = _start_simulators(settings, residents, chosen)
    try:
        with one_line_errors():
            with _setup_lock(settings.var_dir):
                settings = _sync_demo_sources(simulators.env)
                _run_work(settings)
                _tag_residents(settings)
                base_url = settings.issuer
                _hand_out_credentials(settings, base_url, chosen, simulators.env)
            _check_port(settings.host, chosen)  # still free after the set-up?
        console.print(f"consoles: {base_url}/ · GraphiQL: {base_url}/graphql", highlight=False)
        serve(host=None, port=chosen, workers=1)  # the connectors scheduler runs inside
    finally:
        simulators.stop()


def _check_port(host: str, port: int) -> None:
    """Refuse at once when the port is taken, before any work or any change."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise CommandError(
                f"port {port} on {host} is in use (another hub demo?): "
                f"pass --port {port + 1} or set HUB_PORT"
            ) from None


def _follow_port(host: str, port: int) -> None:
    """`hub serve` and every token then say this port (unless HUB_ISSUER was set)."""
    os.environ["HUB_PORT"] = str(port)
    if "HUB_ISSUER" not in os.environ:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        os.environ["HUB_ISSUER"] = f"http://{shown}:{port}"


@contextlib.contextmanager
def _setup_lock(var_dir: Path) -> Iterator[None]:
    """One demo sets up at a time (demos on other ports wait here, then find the work done)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    with (var_dir / "demo.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_grid_tree(settings: Settings) -> None:
    from hub.demo.seed import seed_grid_tree

    summary = run_with_engine(
        settings, lambda engine: seed_grid_tree(engine, scale="small", seed=0)
    )
    console.print(f"wrote the district's grid tree: {summary.grids:,} grids", highlight=False)


def _start_simulators(settings: Settings, residents: int, port: int) -> Any:
    from hub.demo.world_sync import SimulatorError, SimulatorProcess

    directory = settings.var_dir / "demo-sources" / str(port)
    console.print(f"starting the department simulators in {directory} …", highlight=False)
    try:
        return SimulatorProcess.start(
            directory, residents=residents, seed=0, bad_records=BAD_RECORDS_PER_STREAM
        )
    except SimulatorError as error:
        raise CommandError(str(error)) from error


def _sync_demo_sources(simulators_env: dict[str, str]) -> Settings:
    """Point HUB_CONNECTORS at the demo file, sync every department, print what arrived."""
    from connectors.errors import ConnectorError
    from hub.cli.runs import ProgressBars, progress_lines, report_runs
    from hub.demo.world_sync import count_rows, demo_environment, sync_demo
    from hub.storage.models import RunStatus

    os.environ.update(demo_environment(simulators_env))  # `hub serve` below reads them too
    settings = settings_from_environment()

    async def run(engine: AsyncEngine, progress: Any) -> tuple[Any, int]:
        summaries = await sync_demo(settings, engine, env=simulators_env, progress=progress)
        return summaries, (await count_rows(engine))[1]

    try:
        with progress_lines() as progress:
            bars = ProgressBars(progress)
            summaries, people = run_with_engine(settings, lambda engine: run(engine, bars))
    except ConnectorError as error:
        raise CommandError(str(error)) from error
    report_runs(summaries, as_json=False)
    quarantined = sum(s.counts.quarantined for s in summaries)
    console.print(f"{people:,} residents in the hub, {quarantined:,} records quarantined")
    for failed in (s for s in summaries if s.status is RunStatus.FAILED):
        reason = escape(f"{failed.connector}/{failed.stream}: {failed.error}")
        console.print(f"[yellow]warning:[/yellow] {reason}")
    if not people:
        raise CommandError("no residents arrived from the police register; see the errors above")
    return settings


def _run_work(settings: Settings) -> None:
    """The demo district's month of work, once (after the connectors brought its people)."""
    from hub.demo.work import MONTH, has_case_work, seed_month_of_work

    async def run(engine: AsyncEngine) -> Any:
        if await has_case_work(engine):
            return None
        return await seed_month_of_work(engine, seed=0)

    summary = run_with_engine(settings, run)
    if summary is not None:
        console.print(
            f"wrote a month of grid work ({MONTH.start:%Y-%m}): {summary.counts['cases']:,} "
            f"cases, {summary.counts.get('visits', 0):,} visits, "
            f"{summary.counts.get('patrols', 0):,} patrols",
            highlight=False,
        )


def _tag_residents(settings: Settings) -> None:
    from hub.demo.care_tags import tag_residents

    added = run_with_engine(settings, tag_residents)
    if added:
        console.print(f"care tags from the departments' records: {added:,}", highlight=False)


def _hand_out_credentials(
    settings: Settings, base_url: str, port: int, simulators_env: dict[str, str]
) -> None:
    """Clients and accounts per role; printed, and written to <var>/demo/README.md."""
    from hub.auth.clients import default_password_hasher
    from hub.auth.policy import load_policy
    from hub.demo.credentials import demo_accounts, demo_clients
    from hub.demo.guide import absolute_database_url, guide, write_env
    from hub.storage.session import create_sessionmaker

    policy = load_policy(settings.policy)
    demo_dir = settings.var_dir / "demo"

    async def make(engine: AsyncEngine) -> tuple[Any, Any]:
        sessionmaker = create_sessionmaker(engine)
        clients = await demo_clients(sessionmaker, policy, port=port)
        accounts = await demo_accounts(
            sessionmaker, policy, passwords_file=demo_dir / "passwords.json",
            hasher=default_password_hasher(),
        )  # fmt: skip
        return clients, accounts

    clients, accounts = run_with_engine(settings, make)
    env = {
        **simulators_env,
        "HUB_CONNECTORS": str(settings.connectors),
        "HUB_DATABASE_URL": absolute_database_url(settings.database_url),
        "HUB_VAR_DIR": str(settings.var_dir.resolve()),
        "HUB_PORT": str(port),
        "HUB_ISSUER": settings.issuer,
    }
    env_file = settings.var_dir / "demo.env"
    for path in (env_file, demo_dir / f"{port}.env"):
        write_env(path, env)
    text = guide(base_url, clients, accounts, env_file.resolve())
    for path in (demo_dir / "README.md", demo_dir / str(port) / "README.md"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    out = Console()
    out.print("\nstaff accounts (sign in at the consoles):", highlight=False)
    for account in accounts:
        grid = f" grid {account.grid_code}" if account.grid_code else ""
        out.print(f"  {account.name:<16} {account.password}  {account.role}{grid}", highlight=False)
    for client in clients:
        sample = f" (sample ID number {client.id_number})" if client.id_number else ""
        out.print(f"\n# {client.role}{sample}", highlight=False)
        out.print(client.curl(base_url), highlight=False, soft_wrap=True, markup=False)
    out.print(f"\nall of this is in {demo_dir / 'README.md'}; commands against this demo: "
              f"set -a; . {env_file}; set +a", highlight=False)  # fmt: skip


def _has_district(settings: Settings) -> bool:
    from sqlalchemy import func, select

    from hub.storage.models import Grid

    async def run(engine: AsyncEngine) -> bool:
        async with engine.connect() as connection:
            return bool(await connection.scalar(select(func.count()).select_from(Grid)))

    return run_with_engine(settings, run)
