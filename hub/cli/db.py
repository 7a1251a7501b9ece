"""`hub db upgrade`: migrate the database; never loses data."""

from __future__ import annotations

import typer
from rich.console import Console

from hub.cli_support import one_line_errors, settings_from_environment
from hub.storage import migrations

app = typer.Typer(help="Database migrations.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database (HUB_DATABASE_URL) up to REVISION; never loses data."""
    with one_line_errors():
        settings = settings_from_environment()
        migrations.upgrade(settings.database_url, revision, settings=settings)
        console.print(f"database at {revision}: {settings.database_url}", highlight=False)


@app.callback()
def db() -> None:
    """Database migrations."""
