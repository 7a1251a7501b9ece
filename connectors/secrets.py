"""Secrets come from environment variables that the connectors TOML names, never from the file."""

from __future__ import annotations

from collections.abc import Mapping

from connectors.errors import FatalError


def secret(env: Mapping[str, str], variable: str, *, where: str) -> str:
    """The variable's value; FatalError names the variable and the key that names it."""
    value = env.get(variable)
    if not value:
        raise FatalError(f"environment variable {variable} is not set (named by {where})")
    return value
