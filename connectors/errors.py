"""Connector errors, grouped by what the runner must do about them.

ConnectorError
 ├── RetriableError   transient (timeout, connection reset, 429, 5xx, malformed page):
 │                    retry with backoff; when attempts run out the run fails, committed
 │                    batches stay and the next run resumes from the last cursor
 ├── FatalError       configuration or credentials are wrong: fail the run at once,
 │    └── ConfigError the connectors TOML is invalid (names the file and key path)
 └── BadRecordError   one record cannot be mapped: quarantine it, carry on with the run
"""

from __future__ import annotations

from typing import Any


class ConnectorError(Exception):
    """Base of every error a connector raises on purpose."""


class RetriableError(ConnectorError):
    """A transient failure; `retry_after` (seconds) is the server's own hint, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(ConnectorError):
    """Retrying cannot help: fix the configuration or the credentials named in the message."""


class ConfigError(FatalError):
    """The connectors file is invalid; the message names the file and each bad key path."""


class BadRecordError(ConnectorError):
    """A record that does not fit its stream's mapping; `errors` are pydantic-style field errors."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors
