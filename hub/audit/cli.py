"""`hub audit verify`, `hub audit export` and `hub audit checkpoints export`."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from sqlalchemy import select

from hub.audit.anchors import Lines, outside_keys
from hub.audit.checkpoints import CheckpointLine, TrustedKeys, keys_from_jwks
from hub.audit.export import export_events
from hub.audit.outside import read_lines
from hub.audit.report import TrailReport
from hub.audit.verify import verify_trail
from hub.audit.verify_export import verify_export
from hub.auth.keys import KeyStore
from hub.cli_support import one_line_errors
from hub.config import Settings
from hub.storage.models import AuditCheckpoint
from hub.storage.session import create_engine

audit_app = typer.Typer(help="The tamper-evident audit trail.")
checkpoints_app = typer.Typer(help="Signed checkpoints of the audit chains.")
audit_app.add_typer(checkpoints_app, name="checkpoints")
console = Console(stderr=True, highlight=False, soft_wrap=True)  # one problem, one line

FromOption = Annotated[datetime | None, typer.Option("--from", help="From (inclusive, UTC).")]
ToOption = Annotated[datetime | None, typer.Option("--to", help="To (exclusive, UTC).")]


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _trusted_keys(settings: Settings, jwks: Path | None, outside: Lines) -> TrustedKeys:
    """The hub's keys on disk, and the JWKS given, or else the checkpoint file's own keys."""
    store = KeyStore(settings.signing_keys_dir, retention=timedelta(0), generate_missing=False)
    keys: TrustedKeys = {key.kid: key.key for key in store.list_keys()}
    keys.update(keys_from_jwks(jwks) if jwks is not None else outside_keys(outside))
    return keys


@audit_app.command("verify")
def verify(
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints",
            help="Checkpoint file or folder kept outside the database "
            "(HUB_AUDIT_CHECKPOINT_DIR, a witness's copy).",
        ),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Verify this export file instead of the database."),
    ] = None,
    jwks: Annotated[
        Path | None,
        typer.Option("--jwks", help="The hub's JWK Set (saved /.well-known/jwks.json)."),
    ] = None,
    since: FromOption = None,
    until: ToOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Verify every chain, its checkpoints and its access index; exit 1 naming what is wrong.

    --from says events before it were archived (or not exported); --to applies to exports.
    """
    with one_line_errors():
        settings = Settings()
        outside = list(read_lines(checkpoints)) if checkpoints is not None else []
        keys = _trusted_keys(settings, jwks, outside)
        if export is not None:
            report = verify_export(
                export, keys=keys, outside=outside, since=_utc(since), until=_utc(until)
            )
        else:
            report = asyncio.run(_verify_database(settings, keys, outside, _utc(since)))
    _print(report, as_json=as_json)
    if not report.ok:
        raise typer.Exit(1)


async def _verify_database(
    settings: Settings, keys: TrustedKeys, outside: Lines, since: datetime | None
) -> TrailReport:
    engine = create_engine(settings.database_url)
    try:
        return await verify_trail(engine, keys=keys, outside=outside, since=since)
    finally:
        await engine.dispose()


def _print(report: TrailReport, *, as_json: bool) -> None:
    if as_json:
        document = {
            "ok": report.ok,
            "chains": [chain.document() for chain in report.chains],
            "notes": report.notes,
        }
        typer.echo(orjson.dumps(document).decode())
    for chain in report.chains:
        for problem in chain.problems:
            where = f"event {problem.event_id} (seq {problem.seq}) " if problem.event_id else ""
            console.print(
                f"[red]chain {chain.chain_id}: {where}{problem.kind}: {problem.message}[/red]",
                highlight=False,
            )
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)
    events = sum(chain.events for chain in report.chains)
    anchored = sum(chain.checkpoints for chain in report.chains)
    if report.ok:
        console.print(
            f"{len(report.chains)} chains, {events:,} events, {anchored:,} checkpoints: all verify",
            highlight=False,
        )
    else:
        bad = sum(not chain.ok for chain in report.chains)
        console.print(f"{bad} of {len(report.chains)} chains do not verify", highlight=False)


@audit_app.command("export")
def export(
    start: FromOption = None,
    end: ToOption = None,
    fmt: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.jsonl,
    out: Annotated[Path | None, typer.Option(help="File to write (default: stdout).")] = None,
) -> None:
    """Stream the trail as JSON Lines (checkpoints interleaved) or CSV, chain by chain."""

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

    with one_line_errors():
        asyncio.run(run())


@checkpoints_app.command("export")
def checkpoints_export(
    out: Annotated[Path | None, typer.Option(help="File to write (default: stdout).")] = None,
) -> None:
    """Every signed checkpoint in the database, as JSON Lines (the outside sink's format)."""

    async def run() -> list[bytes]:
        engine = create_engine(Settings().database_url)
        try:
            query = select(AuditCheckpoint.jws, AuditCheckpoint.jwk).order_by(AuditCheckpoint.id)
            async with engine.connect() as connection:
                rows = (await connection.execute(query)).all()
        finally:
            await engine.dispose()
        return [CheckpointLine.parse(row._mapping).json_line() for row in rows]

    with one_line_errors():
        lines = asyncio.run(run())
        if out is not None:
            out.write_bytes(b"".join(lines))
        else:
            sys.stdout.write(b"".join(lines).decode())
    console.print(f"{len(lines)} checkpoints", highlight=False)
