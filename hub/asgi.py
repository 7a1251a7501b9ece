"""Entry point for ASGI servers: `uvicorn --factory hub.asgi:create_app_from_environment`."""

from __future__ import annotations

from starlette.applications import Starlette

from hub.app import create_app
from hub.config import Settings


def create_app_from_environment() -> Starlette:
    return create_app(Settings())
