"""GraphQL errors with a stable `extensions.code`; messages tell the caller what to change.

The codes are the hub's (`hub/errors.py`); these are the refusals only GraphQL makes:
a field the caller's scopes do not reach, resident data without a purpose, an argument
the schema cannot use.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from hub.errors import EXPECTED_CODES, ErrorCode

BAD_USER_INPUT = ErrorCode.BAD_USER_INPUT.value
FORBIDDEN = ErrorCode.FORBIDDEN.value
UNAUTHENTICATED = ErrorCode.UNAUTHENTICATED.value
PURPOSE_REQUIRED = ErrorCode.PURPOSE_REQUIRED.value
QUERY_TOO_COMPLEX = ErrorCode.QUERY_TOO_COMPLEX.value
RATE_LIMITED = ErrorCode.RATE_LIMITED.value
QUOTA_EXCEEDED = ErrorCode.QUOTA_EXCEEDED.value
TIMEOUT = ErrorCode.TIMEOUT.value
UNAVAILABLE = ErrorCode.UNAVAILABLE.value
INTERNAL_SERVER_ERROR = ErrorCode.INTERNAL_SERVER_ERROR.value

__all__ = [
    "BAD_USER_INPUT",
    "EXPECTED_CODES",
    "FORBIDDEN",
    "INTERNAL_SERVER_ERROR",
    "PURPOSE_REQUIRED",
    "QUERY_TOO_COMPLEX",
    "QUOTA_EXCEEDED",
    "RATE_LIMITED",
    "TIMEOUT",
    "UNAUTHENTICATED",
    "UNAVAILABLE",
    "BadUserInputError",
    "ForbiddenError",
    "PurposeRequiredError",
    "QuotaExceededError",
]


class BadUserInputError(GraphQLError):
    """The caller sent an argument the hub cannot use; the message says which and why."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, extensions={"code": BAD_USER_INPUT, **details})


class ForbiddenError(GraphQLError):
    """The caller's scopes do not reach a field (or an argument of it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": FORBIDDEN})


class PurposeRequiredError(GraphQLError):
    """Resident data asked for without saying why (no X-Request-Purpose)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": PURPOSE_REQUIRED})


class QuotaExceededError(GraphQLError):
    """The caller has read as many residents' PII or sensitive fields today as its quota allows."""

    def __init__(self, coordinate: str, limit: int | None) -> None:
        super().__init__(
            f"`{coordinate}` is refused: this client has read the personal or sensitive data of "
            f"{limit} residents today, its daily quota; ask an administrator if that is too few",
            extensions={"code": QUOTA_EXCEEDED},
        )
