"""`hub demo`: the department simulators, pulled in through the connectors, served with GraphiQL."""

from __future__ import annotations

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


@app.command()
def demo(
    residents: Annotated[int, typer.Option(min=1, help="Residents in the demo district.")] = 2000,
    port: Annotated[int | None, typer.Option(help="Port (HUB_PORT).")] = None,
) -> None:
    """Start the department simulators, pull them in through the connectors, serve with GraphiQL.

    Migrates; writes the district's grid tree if the database is empty (residents come from
    the police register); runs the simulators under <var>/demo-sources until the hub stops.
    """
    with one_line_errors():
        settings = settings_from_environment()
        migrations.upgrade(settings.database_url, settings=settings)
        if not _has_district(settings):
            _run_grid_tree(settings)
        simulators = _start_simulators(settings, residents)
    try:
        with one_line_errors():
            settings = _sync_demo_sources(simulators.env)
            _run_work(settings)
            base_url = f"http://{settings.host}:{port or settings.port}"
            _print_demo_clients(settings, base_url)
        console.print(f"GraphiQL: {base_url}/graphql", highlight=False)
        serve(host=None, port=port, workers=1)  # the connectors scheduler runs inside
    finally:
        simulators.stop()


def _run_grid_tree(settings: Settings) -> None:
    from hub.demo.seed import seed_grid_tree

    summary = run_with_engine(
        settings, lambda engine: seed_grid_tree(engine, scale="small", seed=0)
    )
    console.print(f"wrote the district's grid tree: {summary.grids:,} grids", highlight=False)


def _start_simulators(settings: Settings, residents: int) -> Any:
    from hub.demo.world_sync import SimulatorError, SimulatorProcess

    directory = settings.var_dir / "demo-sources"
    console.print(f"starting the department simulators in {directory} …", highlight=False)
    try:
        return SimulatorProcess.start(directory, residents=residents, seed=0)
    except SimulatorError as error:
        raise CommandError(str(error)) from error


def _sync_demo_sources(simulators_env: dict[str, str]) -> Settings:
    """Point HUB_CONNECTORS at the demo file, sync every department, print what arrived."""
    import os

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


def _print_demo_clients(settings: Settings, base_url: str) -> None:
    from rich.table import Table

    from hub.auth.policy import load_policy
    from hub.demo.credentials import demo_clients
    from hub.storage.session import create_sessionmaker

    policy = load_policy(settings.policy)
    clients, resident_id = run_with_engine(
        settings, lambda engine: demo_clients(create_sessionmaker(engine), policy)
    )
    table = Table("role", "client_id", "client_secret", "grid", title="Demo clients (one per role)")
    for client in clients:
        table.add_row(client.role, client.client_id, client.client_secret, client.grid_code or "")
    out = Console()
    out.print(table)
    for client in clients:
        out.print(f"\n# {client.role}", highlight=False)
        out.print(client.curl(base_url, resident_id), highlight=False, soft_wrap=True)


def _has_district(settings: Settings) -> bool:
    from sqlalchemy import func, select

    from hub.storage.models import Grid

    async def run(engine: AsyncEngine) -> bool:
        async with engine.connect() as connection:
            return bool(await connection.scalar(select(func.count()).select_from(Grid)))

    return run_with_engine(settings, run)
