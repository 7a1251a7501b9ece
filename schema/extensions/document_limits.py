"""Parses each document within its limits (schema/rules/limits.py), with a cache, and insists on
an `operationName` whenever the document holds more than one operation.

It replaces strawberry's ParserCache: parsing happens here, so the limits apply before any
other work. Documents and refusals are cached by their text; a changed comment is a new text,
which is why the limits, not the cache, are what keep hostile documents cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from schema.errors import BAD_USER_INPUT
from schema.rules.limits import DocumentLimits, parse_within


class DocumentCache:
    """Parsed documents (or the error each text raised), shared by every request of a schema."""

    def __init__(self, limits: DocumentLimits, *, maxsize: int = 512) -> None:
        self.limits = limits
        self._parse: Callable[[str], DocumentNode | GraphQLError] = functools.lru_cache(
            maxsize=maxsize
        )(self._parse_once)

    def parse(self, source: str) -> DocumentNode:
        parsed = self._parse(source)
        if isinstance(parsed, GraphQLError):
            raise GraphQLError(
                parsed.message,
                source=parsed.source,
                positions=parsed.positions,
                extensions=parsed.extensions,
            )
        return parsed

    def _parse_once(self, source: str) -> DocumentNode | GraphQLError:
        try:
            return parse_within(source, self.limits)
        except GraphQLError as error:
            return error


class DocumentLimitsExtension(SchemaExtension):
    def __init__(self, *, cache: DocumentCache) -> None:
        self.cache = cache

    def on_parse(self) -> Iterator[None]:
        execution = self.execution_context
        if execution.graphql_document is None and execution.query:
            document = self.cache.parse(execution.query)
            # strawberry runs the first operation when none is named; the spec says: error.
            _check_operation(document, getattr(execution, "_provided_operation_name", None))
            execution.graphql_document = document
        yield


def _check_operation(document: DocumentNode, name: str | None) -> None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None and len(operations) > 1:
        raise GraphQLError(
            f"the document holds {len(operations)} operations; "
            "say which one to run with `operationName`",
            extensions={"code": BAD_USER_INPUT},
        )
    if name is not None and not any(o.name and o.name.value == name for o in operations):
        raise GraphQLError(
            f"the document has no operation named `{name}`; check `operationName`",
            extensions={"code": BAD_USER_INPUT},
        )
