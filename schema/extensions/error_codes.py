"""Gives every error a stable `extensions.code`, masks unexpected failures in production and,
there, every suggestion ("Did you mean …") of an argument, type, enum value, input field or
field name: graphql-core adds them in validation and in variable coercion alike, always as the
message's last sentence.

A database that cannot be reached is not an internal error: it is UNAVAILABLE, and the
HTTP answer becomes 503 with Retry-After (DESIGN.md, "Limits").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from hub.errors import HubError
from hub.limits.availability import RETRY_AFTER_SECONDS, is_unavailable
from schema.context import Context
from schema.errors import BAD_USER_INPUT, INTERNAL_SERVER_ERROR, UNAVAILABLE

logger = logging.getLogger("gridhub.graphql")


def _is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | HubError)


SUGGESTION = " Did you mean "  # graphql.pyutils.did_you_mean's opening


def without_suggestion(message: str) -> str:
    """The message up to its suggestion, if any."""
    return message.partition(SUGGESTION)[0]


class ErrorCodes(SchemaExtension):
    """Parse and validation errors are `BAD_USER_INPUT`; a `HubError` keeps its own code and
    details; any other exception is `INTERNAL_SERVER_ERROR`.

    An unexpected exception is logged with its traceback here, once; the caller gets a
    generic message in production and the exception's message in development.
    """

    def __init__(self, *, mask_internal: bool, hide_suggestions: bool = False) -> None:
        self.mask_internal = mask_internal
        self.hide_suggestions = hide_suggestions

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLError as escaped:  # a parse error escapes the operation, answered as is
            self._with_code(escaped)
            raise
        # Validation errors never reach `result`; they are answered from this list.
        for error in self.execution_context.pre_execution_errors or ():
            self._with_code(error)
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = _once_per_message([self._with_code(e) for e in result.errors])
            if any((e.extensions or {}).get("code") == UNAVAILABLE for e in result.errors):
                self._unavailable()

    def _unavailable(self) -> None:
        context = self.execution_context.context
        response = context.request.response if isinstance(context, Context) else None
        if response is not None:
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each event of a subscription gets the same codes (its errors never reach
        `on_operation`'s result)."""
        if self.execution_context.operation_type is OperationType.SUBSCRIPTION:
            errors = getattr(result, "errors", None)
            if errors:
                result.errors = [self._with_code(error) for error in errors]
        yield

    def _with_code(self, error: GraphQLError) -> GraphQLError:
        if self.hide_suggestions:
            error.message = without_suggestion(error.message)  # in place, as strawberry does
        extensions = dict(error.extensions or {})
        if isinstance(error.original_error, HubError):
            original = error.original_error
            error.extensions = {**extensions, **original.details, "code": original.code.value}
            return error
        if is_unavailable(error.original_error):
            logger.warning("database unreachable at %s: %s", error.path, error.original_error)
            return GraphQLError(
                "the database cannot be reached; retry later",
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": UNAVAILABLE},
            )
        if _is_expected(error):
            inherited = getattr(error.original_error, "extensions", None) or {}
            extensions.setdefault("code", inherited.get("code", BAD_USER_INPUT))
            error.extensions = extensions  # in place: the response may hold this object
            return error
        logger.error("unexpected error at %s", error.path, exc_info=error.original_error)
        message = "Internal server error." if self.mask_internal else error.message
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": INTERNAL_SERVER_ERROR},
        )


def _once_per_message(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Repeats of one bound's refusal (a limit hit at every later list item) reported once."""
    kept: list[GraphQLError] = []
    seen: dict[tuple[str, object], GraphQLError] = {}
    for error in errors:
        code = (error.extensions or {}).get("code")
        key = (error.message, code)
        if code not in REPEATED_CODES or key not in seen:
            seen[key] = error
            kept.append(error)
    return kept


REPEATED_CODES = frozenset({"QUERY_TOO_COMPLEX", UNAVAILABLE})
