"""Gives every error a stable `extensions.code`, masks unexpected failures in production and,
there, every suggestion ("Did you mean …") of an argument, type, enum value, input field or
field name: graphql-core adds them in validation and in variable coercion alike, always as the
message's last sentence."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from hub.errors import HubError
from schema.errors import BAD_USER_INPUT, INTERNAL_SERVER_ERROR

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
            result.errors = [self._with_code(error) for error in result.errors]

    def _with_code(self, error: GraphQLError) -> GraphQLError:
        if self.hide_suggestions:
            error.message = without_suggestion(error.message)  # in place, as strawberry does
        extensions = dict(error.extensions or {})
        if isinstance(error.original_error, HubError):
            original = error.original_error
            error.extensions = {**extensions, **original.details, "code": original.code.value}
            return error
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
