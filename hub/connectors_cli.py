"""The connector commands: `hub sync`, `hub connectors list|status`, `hub quarantine list|retry`.

The lead registers them on the `hub` app (see the module's last lines in the report):
`app.command("sync")(sync_command)`, `app.add_typer(connectors_app, name="connectors")`,
`app.add_typer(quarantine_app, name="quarantine")`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.errors import ConnectorError
from hub.cli_support import one_line_errors, print_json, run_with_engine
from hub.config import Settings
from hub.quarantine import list_quarantine
from hub.storage.base import utcnow
from hub.storage.models import ConnectorRun, ConnectorState, QuarantineReason, RunStatus
from hub.storage.session import create_sessionmaker
from hub.sync import Counts, RunSummary, connectors_config, retry_quarantine, sync

connectors_app = typer.Typer(help="Configured connectors (HUB_CONNECTORS) and their state.")
quarantine_app = typer.Typer(help="Records the connectors could not accept.")
console = Console(stderr=True, soft_wrap=True)  # one-line reasons stay one line
T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


class _ProgressBars:
    """One rich progress line per stream, advanced after every committed batch."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[tuple[str, str], TaskID] = {}

    def __call__(self, connector: str, stream: str, counts: Counts) -> None:
        key = (connector, stream)
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(f"{connector}/{stream}", total=None, counts="")
        summary = (
            f"{counts.inserted} new, {counts.updated} updated, {counts.quarantined} quarantined"
        )
        self.progress.update(self.tasks[key], completed=counts.read, counts=summary)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} read"),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def sync_command(
    connectors: Annotated[
        list[str] | None, typer.Argument(help="Connectors to run (default: every enabled one).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Ignore cursors and read everything again.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Pull new and changed records from department systems; exit 1 if any stream failed."""
    with one_line_errors(ConnectorError):
        settings = Settings()
        config = connectors_config(settings)
        with _progress() as progress:
            bars = _ProgressBars(progress)
            summaries = run_with_engine(
                settings,
                lambda engine: sync(
                    settings,
                    engine,
                    connectors=connectors or (),
                    full=full,
                    progress=bars,
                    config=config,
                ),
            )
    _report_runs(summaries, as_json=as_json)
    failed = [s for s in summaries if s.status is RunStatus.FAILED]
    if failed:
        first = failed[0]
        console.print(
            f"[red]error:[/red] {first.connector}/{first.stream}: {first.error}", highlight=False
        )
        raise typer.Exit(1)


def _report_runs(summaries: list[RunSummary], *, as_json: bool) -> None:
    if as_json:
        print_json([s.as_dict() for s in summaries])
        return
    table = Table(
        "connector", "stream", "status", "read", "inserted", "updated", "unchanged", "quarantined"
    )
    for s in summaries:
        c = s.counts
        table.add_row(
            s.connector,
            s.stream,
            s.status.value,
            *map(str, (c.read, c.inserted, c.updated, c.unchanged, c.quarantined)),
        )
    Console().print(table)


@connectors_app.command("list")
def list_connectors(as_json: JsonOption = False) -> None:
    """The connectors in HUB_CONNECTORS: kind, streams, targets and schedule."""
    with one_line_errors(ConnectorError):
        config = connectors_config(Settings())
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
        table.add_row(row["connector"], row["kind"], str(row["enabled"]), interval, streams)
    Console().print(table)


async def stream_status(engine: AsyncEngine, *, now: datetime) -> list[dict[str, Any]]:
    """Per stream ever run: its cursor, its last run with counts, and the lag since that run."""
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        states = {(s.connector, s.stream): s for s in await session.scalars(select(ConnectorState))}
        runs = (await session.scalars(select(ConnectorRun).order_by(ConnectorRun.id))).all()
    last: dict[tuple[str, str], ConnectorRun] = {(r.connector, r.stream): r for r in runs}
    rows = []
    for key in sorted(set(states) | set(last)):
        run, state = last.get(key), states.get(key)
        rows.append(_status_row(key, run, state, now))
    return rows


def _status_row(
    key: tuple[str, str], run: ConnectorRun | None, state: ConnectorState | None, now: datetime
) -> dict[str, Any]:
    synced_at = state.updated_at if state else None
    return {
        "connector": key[0],
        "stream": key[1],
        "cursor": state.cursor if state else None,
        "cursor_updated_at": synced_at.isoformat() if synced_at else None,
        "lag_seconds": (now - synced_at).total_seconds() if synced_at else None,
        "last_run": None if run is None else {
            "id": run.id, "status": run.status.value, "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "read": run.read, "inserted": run.inserted, "updated": run.updated,
            "unchanged": run.unchanged, "quarantined": run.quarantined, "error": run.error,
        },
    }  # fmt: skip


@connectors_app.command("status")
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
            row["connector"],
            row["stream"],
            run.get("status", "-"),
            *counts,
            lag,
            run.get("error") or "",
        )
    Console().print(table)


@quarantine_app.command("list")
def quarantine_list(
    connector: Annotated[str | None, typer.Option(help="Only this connector.")] = None,
    reason: Annotated[QuarantineReason | None, typer.Option(help="Only this reason.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many records.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Quarantined records with their reason (payloads only in --json: they hold personal data)."""

    async def load(engine: AsyncEngine) -> list[dict[str, Any]]:
        async with create_sessionmaker(engine)() as session:
            rows = await list_quarantine(session, connector=connector, reason=reason, limit=limit)
            return [_quarantine_row(row) for row in rows]

    with one_line_errors(ConnectorError):
        rows = run_with_engine(Settings(), load)
    if as_json:
        print_json(rows)
        return
    table = Table("connector", "stream", "record", "reason", "message", "attempts", "last seen")
    for row in rows:
        table.add_row(
            row["connector"],
            row["stream"],
            row["record_key"],
            row["reason"],
            row["message"],
            str(row["attempts"]),
            row["last_seen_at"],
        )
    Console().print(table)


def _quarantine_row(row: Any) -> dict[str, Any]:
    return {
        "connector": row.connector, "stream": row.stream, "record_key": row.record_key,
        "source_record_id": row.source_record_id, "reason": row.reason.value, "message": row.message,
        "detail": row.detail, "payload": row.payload, "attempts": row.attempts,
        "first_seen_at": row.first_seen_at.isoformat(), "last_seen_at": row.last_seen_at.isoformat(),
    }  # fmt: skip


@quarantine_app.command("retry")
def quarantine_retry(
    connector: Annotated[str | None, typer.Option(help="Only this connector.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Run quarantined records through the pipeline again; those now accepted leave quarantine."""
    with one_line_errors(ConnectorError):
        settings = Settings()
        config = connectors_config(settings)
        summary = run_with_engine(
            settings, lambda engine: retry_quarantine(engine, config, connector=connector)
        )
    if as_json:
        print_json(summary.as_dict())
        return
    console.print(
        f"retried {summary.retried}: {summary.resolved} accepted, {summary.remaining} still quarantined",
        highlight=False,
    )
    for skipped in summary.skipped_streams:
        console.print(f"skipped {skipped}", highlight=False)
