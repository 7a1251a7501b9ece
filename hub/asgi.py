"""Entry point for ASGI servers: `uvicorn --factory hub.asgi:create_app_from_environment`."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.applications import Starlette

from hub.app import STARTUP_ERRORS, create_app
from hub.config import Settings, settings_problem


def create_app_from_environment() -> Starlette:
    """The app for the `HUB_*` environment; a configuration it cannot run with ends the
    process with one line naming the fix, not a traceback."""
    try:
        return create_app(Settings())
    except ValidationError as error:
        raise SystemExit(f"error: {settings_problem(error)}") from None
    except STARTUP_ERRORS as error:
        raise SystemExit(f"error: {str(error).strip().splitlines()[0]}") from None
