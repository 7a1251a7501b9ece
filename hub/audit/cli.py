"""`hub audit verify` and `hub audit export`."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from hub.audit.export import export_events
from hub.audit.verify import ChainReport, verify_all
from hub.config import Settings
from hub.storage.session import create_engine

audit_app = typer.Typer(help="The tamper-evident audit trail.")
console = Console(stderr=True)


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


def _utc(value: datetime | None) -> datetime | None:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@audit_app.command("verify")
def verify(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Walk every chain; exit 1 naming the first event that does not verify."""

    async def run() -> list[ChainReport]:
        engine = create_engine(Settings().database_url)
        try:
            return await verify_all(engine)
        finally:
            await engine.dispose()

    reports = asyncio.run(run())
    if as_json:
        typer.echo(orjson.dumps([report.__dict__ for report in reports]).decode())
    for report in reports:
        if not report.ok:
            console.print(
                f"[red]chain {report.chain_id}: event {report.event_id} (seq {report.seq}) "
                f"does not verify: {report.problem}[/red]",
                highlight=False,
            )
            raise typer.Exit(1)
    events = sum(report.events for report in reports)
    console.print(f"{len(reports)} chains, {events:,} events: all verify", highlight=False)


@audit_app.command("export")
def export(
    start: Annotated[datetime | None, typer.Option("--from", help="From (inclusive, UTC).")] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="To (exclusive, UTC).")] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.jsonl,
    out: Annotated[Path | None, typer.Option(help="File to write (default: stdout).")] = None,
) -> None:
    """Stream audit events as JSON Lines or CSV."""

    async def run() -> None:
        engine = create_engine(Settings().database_url)
        stream = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
        try:
            async for line in export_events(
                engine, start=_utc(start), end=_utc(end), fmt=fmt.value
            ):
                stream.write(line)
        finally:
            if out:
                stream.close()
            await engine.dispose()

    asyncio.run(run())
