"""`hub quarantine list|retry`: the records the connectors could not accept, and trying them again.

`list` pages through rows in id order: `--limit` rows after `--after ID`, and says on
stderr when more follow (and the command that shows them); `--all` pages through every
row, holding one page in memory at a time. Both commands filter by connector, stream and
reason alike.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.errors import ConnectorError
from hub.cli.runs import cell, console, load_connectors
from hub.cli_support import one_line_errors, print_json, run_with_engine
from hub.config import Settings
from hub.crypto.columns import open_payload
from hub.crypto.ring import KeyRing
from hub.crypto.store import session_ring
from hub.quarantine import list_quarantine
from hub.storage.models import QuarantinedRecord, QuarantineReason
from hub.storage.session import create_sessionmaker
from hub.sync import retry_quarantine

app = typer.Typer(help="Records the connectors could not accept.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ConnectorOption = Annotated[str | None, typer.Option(help="Only this connector.")]
StreamOption = Annotated[str | None, typer.Option(help="Only this stream.")]
ReasonOption = Annotated[QuarantineReason | None, typer.Option(help="Only this reason.")]
PAGE = 500  # rows per query with --all


@app.command("list")
def quarantine_list(
    connector: ConnectorOption = None,
    stream: StreamOption = None,
    reason: ReasonOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 100,
    after: Annotated[int, typer.Option(min=0, help="Rows after this id (the last one shown).")] = 0,
    every: Annotated[bool, typer.Option("--all", help="Every row, page after page.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Quarantined records with their reason (payloads only in --json: they hold personal data)."""
    filters: dict[str, Any] = {"connector": connector, "stream": stream, "reason": reason}
    if every:
        with one_line_errors(ConnectorError):
            run_with_engine(Settings(), lambda engine: _print_all(engine, filters, after, as_json))
        return

    async def one_page(engine: AsyncEngine) -> list[dict[str, Any]]:
        async for page in _pages(engine, filters, after=after, limit=limit):
            return page
        return []

    with one_line_errors(ConnectorError):
        rows = run_with_engine(Settings(), one_page)
    more = len(rows) > limit
    rows = rows[:limit]
    if as_json:
        print_json(rows)
    else:
        _print_rows(rows)
    if more:
        options = "".join(
            f"--{k} {v.value if isinstance(v, QuarantineReason) else v} "
            for k, v in filters.items() if v is not None
        )  # fmt: skip
        last = rows[-1]["id"]
        console.print(
            f"{limit} shown; more follow: hub quarantine list {options}--after {last} (or --all)",
            highlight=False,
            markup=False,
        )


async def _print_all(
    engine: AsyncEngine, filters: dict[str, Any], after: int, as_json: bool
) -> None:
    """Every row, a page at a time; JSON as one array written as it goes."""
    first = True
    if as_json:
        typer.echo("[", nl=False)
    async for page in _pages(engine, filters, after=after, limit=None):
        if as_json:
            text = ",".join(json.dumps(row, ensure_ascii=False, default=str) for row in page)
            typer.echo(("" if first else ",") + text, nl=False)
        else:
            _print_rows(page)
        first = False
    if as_json:
        typer.echo("]")


async def _pages(
    engine: AsyncEngine, filters: dict[str, Any], *, after: int, limit: int | None
) -> AsyncIterator[list[dict[str, Any]]]:
    """Pages of rows after `after`; with a limit, one page of limit + 1 (to tell whether more follow)."""
    size = PAGE if limit is None else limit + 1
    while True:
        async with create_sessionmaker(engine)() as session:
            found = await list_quarantine(session, **filters, after=after, limit=size)
            fields = await session_ring(session)
            page = [_row(row, fields) for row in found]
        if page:
            yield page
        if limit is not None or len(page) < size:
            return
        after = page[-1]["id"]


def _print_rows(rows: list[dict[str, Any]]) -> None:
    for chunk in _chunks(rows, PAGE):
        table = Table(
            "id", "connector", "stream", "record", "reason", "message", "attempts", "last seen"
        )
        for row in chunk:
            table.add_row(
                str(row["id"]), cell(row["connector"]), cell(row["stream"]), cell(row["record_key"]),
                row["reason"], cell(row["message"]), str(row["attempts"]), row["last_seen_at"],
            )  # fmt: skip
        Console().print(table)


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _row(row: QuarantinedRecord, fields: KeyRing) -> dict[str, Any]:
    payload = open_payload(fields, row.payload_encrypted)
    return {
        "id": row.id, "connector": row.connector, "stream": row.stream, "record_key": row.record_key,
        "source_record_id": row.source_record_id, "reason": row.reason.value, "message": row.message,
        "detail": row.detail, "payload": payload, "attempts": row.attempts,
        "first_seen_at": row.first_seen_at.isoformat(), "last_seen_at": row.last_seen_at.isoformat(),
    }  # fmt: skip


@app.command("retry")
def quarantine_retry(
    connector: ConnectorOption = None,
    stream: StreamOption = None,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run quarantined records through the pipeline again; those now accepted leave quarantine."""
    with one_line_errors(ConnectorError):
        settings = Settings()
        config = load_connectors(settings)
        summary = run_with_engine(
            settings,
            lambda engine: retry_quarantine(
                engine, config, connector=connector, stream=stream, reason=reason
            ),
        )
    if as_json:
        print_json(summary.as_dict())
        return
    console.print(
        f"retried {summary.retried}: {summary.resolved} accepted, {summary.remaining} still quarantined",
        highlight=False,
    )
    for skipped in summary.skipped_streams:
        console.print(f"skipped {skipped}", highlight=False, markup=False)
