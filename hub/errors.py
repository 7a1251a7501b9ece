"""The hub's error vocabulary: the stable codes callers see, and the domain errors carrying them.

Every code is public (DESIGN.md, "Access control"): GraphQL errors put it in
`extensions.code`, HTTP refusals in their JSON body. Domain code raises a `HubError`; the
transport (GraphQL, HTTP, CLI) turns it into that code and the error's message, which
always says what to change::

    HubError                         code
    ├── BadInputError                BAD_USER_INPUT     the caller sent something unusable
    │   └── InvalidTransitionError   BAD_USER_INPUT     an action not allowed from a state
    ├── NotFoundError                NOT_FOUND          nothing with that key (for this caller)
    ├── ConflictError                CONFLICT           someone changed it first (version)
    ├── PermissionDeniedError        FORBIDDEN          the caller may not do this
    ├── LimitError                   QUERY_TOO_COMPLEX | RATE_LIMITED | QUOTA_EXCEEDED | TIMEOUT
    └── UnavailableError             UNAVAILABLE        a dependency (database, audit) is down

GraphQL-only refusals (a field's FORBIDDEN, PURPOSE_REQUIRED) live in `schema/errors.py`;
authentication failures in `hub/auth/backend.py`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    PURPOSE_REQUIRED = "PURPOSE_REQUIRED"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    RATE_LIMITED = "RATE_LIMITED"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    TIMEOUT = "TIMEOUT"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


# Codes that answer a caller's mistake or a policy decision: logged quietly, never masked.
EXPECTED_CODES = frozenset(ErrorCode) - {ErrorCode.INTERNAL_SERVER_ERROR}


class HubError(Exception):
    """An error the hub expects; `details` go to the caller (GraphQL `extensions`)."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadInputError(HubError):
    code = ErrorCode.BAD_USER_INPUT


class InvalidTransitionError(BadInputError):
    """A state machine refused an action; the message names the state and the allowed moves."""


class NotFoundError(HubError):
    code = ErrorCode.NOT_FOUND


class ConflictError(HubError):
    code = ErrorCode.CONFLICT


class PermissionDeniedError(HubError):
    code = ErrorCode.FORBIDDEN


class LimitError(HubError):
    """A bound was reached; the subclass's code says which kind of bound."""

    code = ErrorCode.QUERY_TOO_COMPLEX


class UnavailableError(HubError):
    code = ErrorCode.UNAVAILABLE
