"""`hub schema export`: write the unified and subgraph SDLs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.cli_support import one_line_errors, print_json

app = typer.Typer(help="The GraphQL schema.", no_args_is_help=True)
console = Console(stderr=True)


@app.callback()
def schema() -> None:
    """The GraphQL schema."""


@app.command("export")
def schema_export(
    out: Annotated[Path | None, typer.Option(help="Directory (default: schema/sdl).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
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
