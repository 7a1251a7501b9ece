"""`hub sync [CONNECTOR…] [--full] [--accept-rejections] [--json]`: run the connectors once."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from connectors.errors import ConnectorError
from hub.cli.runs import ProgressBars, console, load_connectors, progress_lines, report_runs
from hub.cli_support import one_line_errors, run_with_engine
from hub.config import Settings
from hub.storage.models import RunStatus
from hub.sync import sync

app = typer.Typer()


@app.command()
def sync_command(
    connectors: Annotated[
        list[str] | None, typer.Argument(help="Connectors to run (default: every enabled one).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Ignore cursors and read everything again.")
    ] = False,
    accept_rejections: Annotated[
        bool,
        typer.Option(
            "--accept-rejections",
            help="This run only: quarantine records the mapping rejects, however many, "
            "instead of failing (see connectors/README.md, When a run fails).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Pull new and changed records from department systems; exit 1 if any stream failed."""
    with one_line_errors(ConnectorError):
        settings = Settings()
        config = load_connectors(settings)
        with progress_lines() as progress:
            bars = ProgressBars(progress)
            summaries = run_with_engine(
                settings,
                lambda engine: sync(
                    settings,
                    engine,
                    connectors=connectors or (),
                    full=full,
                    accept_rejections=accept_rejections,
                    progress=bars,
                    config=config,
                ),
            )
    report_runs(summaries, as_json=as_json)
    failed = [s for s in summaries if s.status is RunStatus.FAILED]
    for summary in failed:  # one line each, with how to recover
        reason = escape(f"{summary.connector}/{summary.stream}: {summary.error}")
        console.print(f"[red]error:[/red] {reason}", highlight=False)
    if failed:
        raise typer.Exit(1)
