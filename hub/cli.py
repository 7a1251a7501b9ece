"""The `hub` command line: serve, migrate, seed, demo, export the schema."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.cli import audit_app
from hub.auth.cli import clients_app, keys_app
from hub.cli_support import (
    CommandError,
    one_line_errors,
    print_json,
    run_with_engine,
    settings_from_environment,
)
from hub.config import Settings
from hub.connectors_cli import connectors_app, quarantine_app, sync_command
from hub.storage import migrations

app = typer.Typer(help="GridHub: cross-department data sharing for grid-based governance.")
db_app = typer.Typer(help="Database migrations.")
schema_app = typer.Typer(help="The GraphQL schema.")
app.add_typer(db_app, name="db")
app.add_typer(schema_app, name="schema")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(connectors_app, name="connectors")
app.add_typer(quarantine_app, name="quarantine")
app.command("sync")(sync_command)

console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


class Scale(StrEnum):
    small = "small"
    jinshui = "jinshui"


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database (HUB_DATABASE_URL) up to REVISION; never loses data."""
    with one_line_errors():
        settings = settings_from_environment()
        migrations.upgrade(settings.database_url, revision)
        console.print(f"database at {revision}: {settings.database_url}", highlight=False)


@app.command()
def seed(
    residents: Annotated[int | None, typer.Option(min=0, help="Residents to generate.")] = None,
    scale: Annotated[
        Scale, typer.Option(help="small: one street; jinshui: 9/107/7,679.")
    ] = Scale.small,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same district.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Generate a synthetic district (grid, boards, households, residents, records)."""
    with one_line_errors():
        settings = settings_from_environment()
        migrations.upgrade(settings.database_url)
        summary = _run_seed(settings, scale=scale.value, residents=residents, seed=seed)
        if as_json:
            print_json(dataclasses.asdict(summary))
        else:
            console.print(
                f"seeded {summary.residents:,} residents in {summary.grids:,} grids "
                f"({summary.total_rows:,} rows) in {summary.elapsed_seconds:.1f} s",
                highlight=False,
            )


def _run_seed(
    settings: Settings, *, scale: Literal["small", "jinshui"], residents: int | None, seed: int
) -> Any:
    from hub.demo.seed import SeedError, seed_district

    async def run(engine: AsyncEngine) -> Any:
        with _progress("seeding residents") as update:
            return await seed_district(
                engine,
                scale=scale,
                residents=residents,
                seed=seed,
                progress=update,
                batch_size=20_000,  # fewer commits: ~10 % faster than 5,000 on SQLite
            )

    try:
        return run_with_engine(settings, run)
    except SeedError as error:
        raise CommandError(str(error)) from error


@contextmanager
def _progress(label: str) -> Iterator[Any]:
    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (HUB_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (HUB_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the hub over HTTP (GraphQL, subgraphs, health checks)."""
    from hub.app import STARTUP_ERRORS

    with one_line_errors(*STARTUP_ERRORS):
        settings = settings_from_environment()
        _check_startup(settings)
    uvicorn.run(
        "hub.asgi:create_app_from_environment",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


def _check_startup(settings: Settings) -> None:
    """Build the app once before the workers do: a configuration it cannot run with (settings,
    policy, trusted issuers, keys) fails here, as one line, instead of in every worker."""
    from hub.app import create_app

    application = create_app(settings)
    asyncio.run(application.state.engine.dispose())


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
        migrations.upgrade(settings.database_url)
        if not _has_district(settings):
            _run_grid_tree(settings)
        simulators = _start_simulators(settings, residents)
    try:
        with one_line_errors():
            settings = _sync_demo_sources(simulators.env)
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
    from hub.connectors_cli import _progress, _ProgressBars, _report_runs
    from hub.demo.world_sync import count_rows, demo_environment, sync_demo
    from hub.storage.models import RunStatus

    os.environ.update(demo_environment(simulators_env))  # `hub serve` below reads them too
    settings = settings_from_environment()

    async def run(engine: AsyncEngine, progress: Any) -> tuple[Any, int]:
        summaries = await sync_demo(settings, engine, env=simulators_env, progress=progress)
        return summaries, (await count_rows(engine))[1]

    try:
        with _progress() as progress:
            bars = _ProgressBars(progress)
            summaries, people = run_with_engine(settings, lambda engine: run(engine, bars))
    except ConnectorError as error:
        raise CommandError(str(error)) from error
    _report_runs(summaries, as_json=False)
    quarantined = sum(s.counts.quarantined for s in summaries)
    console.print(f"{people:,} residents in the hub, {quarantined:,} records quarantined")
    for failed in (s for s in summaries if s.status is RunStatus.FAILED):
        console.print(
            f"[yellow]warning:[/yellow] {failed.connector}/{failed.stream}: {failed.error}"
        )
    if not people:
        raise CommandError("no residents arrived from the police register; see the errors above")
    return settings


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


@schema_app.command("export")
def schema_export(
    out: Annotated[Path | None, typer.Option(help="Directory (default: schema/sdl).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the unified and subgraph SDLs (schema/sdl/*.graphql)."""
    from schema.export import SDL_DIR, export

    with one_line_errors():
        written = export(out or SDL_DIR)
    if as_json:
        print_json([str(path) for path in written])
    else:
        for path in written:
            console.print(f"wrote {path}", highlight=False)
