"""Validates each parsed document once, remembering the result by the document's identity.

Strawberry's ValidationCache keys its LRU cache by the document's hash, which graphql-core
computes over the whole AST on every request (its nodes are dataclasses): about 2 % of a
lookup's CPU. Documents come from the parse cache (`DocumentCache`, or strawberry's
ParserCache), one object per text, so the object itself is the key here; each entry holds
its document, so an id is never reused while its entry lives. The errors are the same
list strawberry's cache would share between requests.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

_Key = tuple[int, int, tuple[type[ASTValidationRule], ...]]


class ValidationResults:
    """Validation errors per (schema, document, rules), the least recently used dropped."""

    def __init__(self, *, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._results: OrderedDict[_Key, tuple[GraphQLSchema, DocumentNode, list[GraphQLError]]]
        self._results = OrderedDict()

    def errors(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        key = (id(schema), id(document), rules)
        found = self._results.get(key)
        if found is not None and found[0] is schema and found[1] is document:
            self._results.move_to_end(key)
            return found[2]
        errors = validate_document(schema, document, rules)
        self._results[key] = (schema, document, errors)
        if len(self._results) > self.maxsize:
            self._results.popitem(last=False)
        return errors


class DocumentValidation(SchemaExtension):
    def __init__(self, *, results: ValidationResults) -> None:
        self.results = results

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        assert execution.graphql_document is not None
        execution.pre_execution_errors = self.results.errors(
            execution.schema._schema, execution.graphql_document, execution.validation_rules
        )
        yield
