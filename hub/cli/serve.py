"""`hub serve`: the hub over HTTP (GraphQL, subgraphs, OAuth, health, metrics)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from hub.cli_support import one_line_errors, settings_from_environment
from hub.config import Settings

app = typer.Typer()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (HUB_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (HUB_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the hub over HTTP (GraphQL, subgraphs, health checks)."""
    import uvicorn

    from hub.app import STARTUP_ERRORS

    with one_line_errors(*STARTUP_ERRORS):
        settings = settings_from_environment()
        _check_startup(settings)
    uvicorn.run(
        "hub.asgi:create_app_from_environment",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
        access_log=False,
        proxy_headers=False,  # X-Forwarded-For is the app's call (HUB_FORWARDED_ALLOW_IPS)
        # Idle keep-alive connections outlive the clients' own idle expiry (httpx: 5 s),
        # so a client never sends on a connection the hub is closing that same moment.
        timeout_keep_alive=75,
    )


def _check_startup(settings: Settings) -> None:
    """Build the app once before the workers do: a configuration it cannot run with (settings,
    policy, trusted issuers, keys — HUB_FIELD_KEY must open the database's field keys) fails
    here, as one line, instead of in every worker."""
    from hub.app import create_app
    from hub.storage import migrations

    application = create_app(settings)
    engine = application.state.engine

    async def check() -> None:
        try:  # before migrations there are no keys to open: /readyz says what is pending
            if await migrations.current_revision(engine) == migrations.head_revision(
                settings.database_url
            ):
                await application.state.fields.ring()
        finally:
            await engine.dispose()

    asyncio.run(check())
