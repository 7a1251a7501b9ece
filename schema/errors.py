"""GraphQL errors with a stable `extensions.code`; messages tell the caller what to change."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

BAD_USER_INPUT = "BAD_USER_INPUT"
FORBIDDEN = "FORBIDDEN"
UNAUTHENTICATED = "UNAUTHENTICATED"
PURPOSE_REQUIRED = "PURPOSE_REQUIRED"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
RATE_LIMITED = "RATE_LIMITED"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"

EXPECTED_CODES = frozenset(
    {BAD_USER_INPUT, FORBIDDEN, UNAUTHENTICATED, PURPOSE_REQUIRED, QUERY_TOO_COMPLEX, RATE_LIMITED}
)


class BadUserInputError(GraphQLError):
    """The caller sent an argument the hub cannot use; the message says which and why."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, extensions={"code": BAD_USER_INPUT, **details})
