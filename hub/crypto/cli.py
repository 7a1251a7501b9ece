"""`hub keys rotate-field-key` and `hub keys field-keys`: the data keys that seal fields.

Registered on the `hub keys` group (hub/auth/cli.py). Both read `Settings()` from the `HUB_*`
environment and migrate the database to head first, as the clients commands do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.cli_support import one_line_errors, print_json, run_with_engine, settings_from_environment
from hub.crypto.rotation import RotationReport, rotate_field_key
from hub.crypto.store import field_keys
from hub.crypto.suites import Suite
from hub.storage import migrations
from hub.storage.models import FieldKey

messages = Console(stderr=True, highlight=False, soft_wrap=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def rotate_field_key_command(
    suite: Annotated[
        Suite | None,
        typer.Option("--suite", help="Suite of the new key (default: HUB_FIELD_SUITE)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows re-sealed per transaction.")] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Re-seal every ID and phone number under a new data key, while the hub serves.

    Resumable: run it again after an interruption and it finishes the rotation it began.
    """
    with one_line_errors():
        settings = settings_from_environment()
        migrations.upgrade(settings.database_url, settings=settings)

        async def rotate(engine: AsyncEngine) -> RotationReport:
            with _progress("re-sealing") as update:
                return await rotate_field_key(
                    field_keys(engine), suite=suite, batch_size=batch_size, progress=update
                )

        report = run_with_engine(settings, rotate)
    if as_json:
        print_json(report.as_dict())
        return
    verb = "finished the rotation to" if report.resumed else "rotated to"
    messages.print(
        f"{verb} field key {report.key_id} ({report.suite.value}): {report.resealed:,} rows "
        f"re-sealed in {report.passes} passes over {report.rows:,} rows, "
        f"{report.seconds:.1f} s; retired: {', '.join(map(str, report.retired)) or 'none'}"
    )


def field_keys_command(as_json: JsonOption = False) -> None:
    """List the field keys: which seals, which a rotation is moving away from, which retired."""
    with one_line_errors():
        settings = settings_from_environment()
        migrations.upgrade(settings.database_url, settings=settings)

        async def load(engine: AsyncEngine) -> list[dict[str, Any]]:
            await field_keys(engine).ring()  # the first key of an empty database, if need be
            async with engine.connect() as connection:
                rows = await connection.execute(select(FieldKey.__table__).order_by(FieldKey.id))
                return [_summary(row) for row in rows]

        summaries = run_with_engine(settings, load)
    if as_json:
        print_json(summaries)
        return
    table = Table("id", "suite", "state", "created", "activated", "retired")
    for row in summaries:
        table.add_row(
            str(row["id"]), row["suite"], row["state"], row["created_at"],
            row["activated_at"] or "", row["retired_at"] or "",
        )  # fmt: skip
    Console().print(table)


def _summary(row: Any) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": row.id,
        "suite": row.suite,
        "state": row.state.value,
        "created_at": when(row.created_at),
        "activated_at": when(row.activated_at),
        "retired_at": when(row.retired_at),
    }


@contextmanager
def _progress(label: str) -> Iterator[Any]:
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=messages, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update
