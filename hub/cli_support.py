"""What every `hub` command shares: settings, one-line failures, JSON output, an engine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.config import Settings, settings_problem
from hub.crypto.store import attach_field_keys
from hub.storage.session import create_engine

T = TypeVar("T")

errors = Console(stderr=True, highlight=False, soft_wrap=True)  # one-line reasons stay one line


class CommandError(Exception):
    """A failure the user can act on; printed as one line, exit status 1."""


@contextmanager
def one_line_errors(*expected: type[Exception]) -> Iterator[None]:
    """Exit 1 with the first line of the reason, the CLI's convention for failures."""
    handled: tuple[type[Exception], ...] = (
        CommandError,
        SQLAlchemyError,
        OSError,
        ValueError,
        *expected,
    )
    try:
        yield
    except handled as error:
        lines = str(error).strip().splitlines() or [type(error).__name__]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        errors.print(f"[red]error:[/red] {escape(lines[0])}{escape(more)}")  # data is not markup
        raise typer.Exit(1) from None


def settings_from_environment() -> Settings:
    """The settings, with the SQLite file's folder created so a first run just works; a
    setting that cannot be used is a `CommandError` naming it (one line, no traceback)."""
    try:
        settings = Settings()
    except ValidationError as error:
        raise CommandError(str(settings_problem(error))) from None
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return settings


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, default=str))


def run_with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `work` on an engine that lives for this command only."""

    async def main() -> T:
        engine = create_engine(settings.database_url)
        attach_field_keys(engine, settings)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())
