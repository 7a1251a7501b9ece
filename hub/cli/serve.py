"""`hub serve`: the hub over HTTP (GraphQL, subgraphs, OAuth, health, metrics)."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli_support import settings_from_environment

app = typer.Typer()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (HUB_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (HUB_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the hub over HTTP (GraphQL, subgraphs, health checks)."""
    import uvicorn

    settings = settings_from_environment()
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
