"""schema/extensions/hooks.py and validation.py: the hooks wrapped once per class run exactly as strawberry's
own runner runs them: the same hooks, in the same order, with exceptions passing through
(and caught, and replaced) the same way, and nothing shared between requests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import strawberry
from graphql import parse, specified_rules
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from schema.extensions.hooks import CachedHooksRunner
from schema.extensions.validation import ValidationResults

Log = list[str]


def _recording(name: str, log: Log, *, fail_in: str | None = None) -> type[SchemaExtension]:
    """An extension class logging its hooks' entries and exits (sync and async ones)."""

    class Recording(SchemaExtension):
        def __init__(self) -> None:
            self.seen = 0  # per instance: a second request must start from zero

        async def on_operation(self) -> AsyncIterator[None]:
            self.seen += 1
            log.append(f"{name} operation enter {self.seen}")
            try:
                yield
            except ValueError as error:
                log.append(f"{name} operation saw {error}")
                raise
            finally:
                log.append(f"{name} operation exit")

        def on_parse(self) -> Iterator[None]:
            self.seen += 1
            log.append(f"{name} parse enter {self.seen}")
            yield
            log.append(f"{name} parse exit")

        def on_validate(self) -> Iterator[None]:
            log.append(f"{name} validate enter")
            yield
            log.append(f"{name} validate exit")

        async def on_execute(self) -> AsyncIterator[None]:
            log.append(f"{name} execute enter")
            if fail_in == "execute":
                raise ValueError(f"{name} refuses")
            yield
            log.append(f"{name} execute exit")

        def get_results(self) -> dict[str, Any]:
            return {name: self.seen}

    return Recording


class Plain(SchemaExtension):
    """A hook that is a plain method, not a generator: strawberry wraps it itself."""

    def __init__(self, log: Log) -> None:
        self.log = log

    def on_validate(self) -> None:  # type: ignore[override]
        self.log.append("plain validate")


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


class _CachedSchema(strawberry.Schema):
    def create_extensions_runner(
        self, execution_context: Any, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return CachedHooksRunner(execution_context=execution_context, extensions=extensions)


async def _run(schema_type: type[strawberry.Schema], query: str, fail_in: str | None) -> Log:
    log: Log = []
    first, second = _recording("first", log), _recording("second", log, fail_in=fail_in)
    schema = schema_type(
        query=Query, extensions=[first, lambda: Plain(log), second, SchemaExtension]
    )
    for _ in range(2):  # two requests: each gets fresh extension instances
        result = await schema.execute(query)
        log.append(f"data {result.data} errors {[e.message for e in result.errors or []]}")
        log.append(f"results {result.extensions}")
    return log


@pytest.mark.parametrize("fail_in", [None, "execute"])
@pytest.mark.parametrize("query", ["{ hello }", "{ nope }", "{ hello"])
async def test_cached_hooks_run_as_strawberrys_runner_runs_them(
    query: str, fail_in: str | None
) -> None:
    expected = await _run(strawberry.Schema, query, fail_in)
    assert await _run(_CachedSchema, query, fail_in) == expected
    assert any(line.startswith("first operation enter") for line in expected)
    assert "first operation exit" in expected


def test_validation_results_are_kept_per_document_object() -> None:
    """schema/extensions/validation.py: one validation per parsed document, whatever its size
    (no hashing of the AST); an equal text parsed again is a new document, validated anew."""
    graphql_schema = strawberry.Schema(query=Query)._schema
    rules = tuple(specified_rules)
    results = ValidationResults(maxsize=1)
    valid, invalid = parse("{ hello }"), parse("{ nope }")
    first = results.errors(graphql_schema, valid, rules)
    assert first == []
    assert results.errors(graphql_schema, valid, rules) is first
    errors = results.errors(graphql_schema, invalid, rules)  # evicts the valid document's
    assert [error.message for error in errors] == ["Cannot query field 'nope' on type 'Query'."]
    assert results.errors(graphql_schema, valid, rules) is not first
    assert results.errors(graphql_schema, parse("{ nope }"), rules) is not errors
