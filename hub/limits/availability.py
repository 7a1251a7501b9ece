"""Whether a failure means "the database cannot be reached" (503 UNAVAILABLE, retry later).

Such failures are not the hub's bugs and not the caller's mistakes: every endpoint answers
them with 503, code UNAVAILABLE and Retry-After, never a bare 500 (DESIGN.md, "Limits").
The test walks the exception's cause chain, because SQLAlchemy, asyncpg and the audit writer
each wrap the original error.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sqlalchemy_errors

from hub.audit.writer import AuditUnavailableError
from hub.errors import UnavailableError

RETRY_AFTER_SECONDS = 5

_UNREACHABLE: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted
    TimeoutError,  # connect or pool checkout timed out
    sqlalchemy_errors.InterfaceError,
    sqlalchemy_errors.TimeoutError,  # pool exhausted for pool_timeout seconds
    UnavailableError,
    AuditUnavailableError,
)


def _asyncpg_errors() -> tuple[type[BaseException], ...]:
    try:
        from asyncpg import exceptions
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return ()
    return (
        exceptions.PostgresConnectionError,
        exceptions.CannotConnectNowError,
        exceptions.ConnectionDoesNotExistError,
        exceptions.InterfaceError,
        exceptions.AdminShutdownError,
        exceptions.TooManyConnectionsError,
    )


_UNREACHABLE += _asyncpg_errors()


def is_unavailable(error: BaseException | None) -> bool:
    """True when `error`, or anything it wraps, says the database cannot be reached."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if _unreachable(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _unreachable(error: BaseException) -> bool:
    if isinstance(error, _UNREACHABLE):
        return True
    if isinstance(error, sqlalchemy_errors.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sqlalchemy_errors.OperationalError | sqlite3.OperationalError):
        text = str(error).lower()
        return any(word in text for word in ("unable to open", "disk i/o", "locked", "connect"))
    return isinstance(error, OSError) and not isinstance(error, FileNotFoundError)
