"""What the sync commands show: a progress line per stream, then a table of the runs.

Everything printed that comes from a source or a file (names, errors, messages) goes out as
plain text, never as rich markup, so a `[red]` in a department's data stays as written.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from connectors.config import ConnectorsConfig
from connectors.errors import ConfigError
from hub.cli_support import CommandError, print_json
from hub.config import Settings
from hub.sync import Counts, RunSummary, connectors_config

console = Console(stderr=True, soft_wrap=True)  # one-line reasons stay one line


def load_connectors(settings: Settings) -> ConnectorsConfig:
    """The connectors file; a file with several problems names the first and the command for all."""
    try:
        return connectors_config(settings)
    except ConfigError as error:
        problems = str(error).splitlines()
        if len(problems) < 2:
            raise
        more = f"and {len(problems) - 1} more: `hub connectors check` lists every one"
        raise CommandError(f"{problems[0]} ({more})") from None


def cell(value: Any) -> Text:
    """A table cell shown as written (no markup)."""
    return Text("" if value is None else str(value))


class ProgressBars:
    """One rich progress line per stream, advanced after every committed batch."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[tuple[str, str], TaskID] = {}

    def __call__(self, connector: str, stream: str, counts: Counts) -> None:
        key = (connector, stream)
        if key not in self.tasks:
            label = Text(f"{connector}/{stream}").markup
            self.tasks[key] = self.progress.add_task(label, total=None, counts="")
        summary = (
            f"{counts.inserted} new, {counts.updated} updated, {counts.quarantined} quarantined"
        )
        self.progress.update(self.tasks[key], completed=counts.read, counts=summary)


def progress_lines() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} read"),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def report_runs(summaries: list[RunSummary], *, as_json: bool) -> None:
    """The runs' counts (unmatched: quarantined until the police register has the person)."""
    if as_json:
        print_json([s.as_dict() for s in summaries])
        return
    table = Table(
        "connector", "stream", "status", "read", "inserted", "updated", "unchanged",
        "quarantined", "unmatched",
    )  # fmt: skip
    for s in summaries:
        c = s.counts
        numbers = (c.read, c.inserted, c.updated, c.unchanged, c.quarantined, c.unmatched)
        table.add_row(cell(s.connector), cell(s.stream), s.status.value, *map(str, numbers))
    Console().print(table)
