"""`hub connectors list|status|check`: the configured connectors, their state, and a dry run."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from connectors.errors import ConnectorError
from hub.cli.runs import cell, load_connectors
from hub.cli_support import one_line_errors, print_json, run_with_engine
from hub.config import Settings
from hub.storage.base import utcnow
from hub.sync.status import stream_status

app = typer.Typer(
    help="Configured connectors (HUB_CONNECTORS) and their state.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@app.command("list")
def list_connectors(as_json: JsonOption = False) -> None:
    """The connectors in HUB_CONNECTORS: kind, streams, targets and schedule."""
    with one_line_errors(ConnectorError):
        config = load_connectors(Settings())
    rows: list[dict[str, Any]] = [
        {
            "connector": name,
            "kind": source.kind,
            "source": source.source or name,
            "enabled": source.enabled,
            "interval_seconds": source.interval.total_seconds() if source.interval else None,
            "streams": {n: s.target for n, s in source.streams.items()},
        }
        for name, source in config.connectors.items()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("connector", "kind", "enabled", "interval", "streams")
    for row in rows:
        streams = ", ".join(f"{n} → {t}" for n, t in row["streams"].items())
        interval = "-" if row["interval_seconds"] is None else f"{row['interval_seconds']:g}s"
        table.add_row(
            cell(row["connector"]), row["kind"], str(row["enabled"]), interval, cell(streams)
        )
    Console().print(table)


@app.command("status")
def status(as_json: JsonOption = False) -> None:
    """Last run, cursor, lag and counts of every stream."""
    with one_line_errors(ConnectorError):
        rows = run_with_engine(Settings(), lambda engine: stream_status(engine, now=utcnow()))
    if as_json:
        print_json(rows)
        return
    table = Table(
        "connector", "stream", "last run", "read", "new", "updated", "quarantined", "lag", "error"
    )
    for row in rows:
        run = row["last_run"] or {}
        lag = "-" if row["lag_seconds"] is None else f"{row['lag_seconds']:.0f}s"
        counts = [str(run.get(k, "-")) for k in ("read", "inserted", "updated", "quarantined")]
        table.add_row(
            cell(row["connector"]), cell(row["stream"]), run.get("status", "-"), *counts, lag,
            cell(run.get("error")),
        )  # fmt: skip
    Console().print(table)


@app.command("check")
def check(
    name: Annotated[str | None, typer.Argument(help="Only this connector.")] = None,
    sample: Annotated[
        int,
        typer.Option(
            "--sample",
            min=0,
            metavar="N",
            help="Also read the first page of each stream and show what N records would "
            "become (written or quarantined, and why); writes nothing.",
        ),
    ] = 0,
    as_json: JsonOption = False,
) -> None:
    """Check the connectors file: every problem at once, each with its key path; exit 1 if any."""
    from hub.cli.check import run_check

    raise typer.Exit(run_check(Settings(), name=name, sample=sample, as_json=as_json))
