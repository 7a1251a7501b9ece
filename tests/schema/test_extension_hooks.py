"""schema/extensions/hooks.py and validation.py: the hooks wrapped once per class run exactly as strawberry's
own runner runs them: the same hooks, in the same order, with exceptions passing through
(and caught, and replaced) the same way, and nothing shared between requests."""

from __future__ import annotations

import functools
import re
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
    """An extension class logging its hooks' entries, exits and the exceptions they see;
    `fail_in` makes it raise on entering or leaving a phase, or swallow what it sees."""

    class Recording(SchemaExtension):
        def __init__(self) -> None:
            self.seen = 0  # per instance: a second request must start from zero

        async def on_operation(self) -> AsyncIterator[None]:
            self.seen += 1
            log.append(f"{name} operation enter {self.seen}")
            try:
                yield
            except Exception as error:
                log.append(f"{name} operation saw {error!r} after {error.__context__!r}")
                if fail_in == "swallow":
                    return
                if fail_in == "replace":
                    raise KeyError(f"{name} replaces it") from None
                if fail_in != "late":
                    raise
            finally:
                log.append(f"{name} operation exit")
            if fail_in == "late":  # a new error, raised outside the handler
                raise TypeError(f"{name} fails late")

        def on_parse(self) -> Iterator[None]:
            self.seen += 1
            log.append(f"{name} parse enter {self.seen}")
            yield
            log.append(f"{name} parse exit")

        def on_validate(self) -> Iterator[None]:
            log.append(f"{name} validate enter")
            try:
                yield
            except Exception as error:
                log.append(f"{name} validate saw {error!r}")
                raise
            if fail_in == "validate exit":
                raise LookupError(f"{name} fails on its way out")
            log.append(f"{name} validate exit")

        async def on_execute(self) -> AsyncIterator[None]:
            log.append(f"{name} execute enter")
            if fail_in == "execute":
                raise ValueError(f"{name} refuses")
            try:
                yield
            except Exception as error:
                log.append(f"{name} execute saw {error!r} after {error.__context__!r}")
                raise
            if fail_in == "execute exit":
                raise KeyError(f"{name} fails on its way out")
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


class SyncOnly(SchemaExtension):
    def __init__(self, log: Log) -> None:
        self.log = log

    def on_operation(self) -> Iterator[None]:
        self.log.append("sync operation enter")
        yield
        self.log.append("sync operation exit")

    def on_execute(self) -> Iterator[None]:
        self.log.append("sync execute enter")
        yield
        self.log.append("sync execute exit")


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


def _answer(log: Log, result: Any) -> None:
    log.append(f"data {result.data} errors {[e.message for e in result.errors or []]}")
    for error in result.errors or []:
        if error.original_error is not None:
            log.append(
                f"raised {error.original_error!r} after {error.original_error.__context__!r}"
            )
    log.append(f"results {result.extensions}")


async def _run(schema_type: type[strawberry.Schema], query: str, fail_in: str | None) -> Log:
    log: Log = []
    first = _recording("first", log, fail_in="late" if fail_in == "replace" else None)
    second = _recording("second", log, fail_in=fail_in)
    inner = {"swallow": "execute exit", "replace": "execute"}.get(fail_in or "")
    third = _recording("third", log, fail_in=inner)
    schema = schema_type(
        query=Query, extensions=[first, lambda: Plain(log), second, SchemaExtension, third]
    )
    for _ in range(2):  # two requests: each gets fresh extension instances
        try:
            _answer(log, await schema.execute(query))
        except Exception as error:
            log.append(f"raised {error!r}")
    return log


def _run_sync(schema_type: type[strawberry.Schema], extensions: list[Any]) -> Log:
    log: Log = []
    schema = schema_type(
        query=Query, extensions=[functools.partial(factory, log) for factory in extensions]
    )
    try:
        _answer(log, schema.execute_sync("{ hello }"))
    except Exception as error:
        log.append(f"raised {error!r}")
    return [re.sub(" at 0x[0-9a-f]+", "", line) for line in log]  # object addresses differ


@pytest.mark.parametrize("fail_in", [None, "execute", "execute exit", "validate exit", "swallow"])
@pytest.mark.parametrize("query", ["{ hello }", "{ nope }", "{ hello"])
async def test_cached_hooks_run_as_strawberrys_runner_runs_them(
    query: str, fail_in: str | None
) -> None:
    expected = await _run(strawberry.Schema, query, fail_in)
    assert await _run(_CachedSchema, query, fail_in) == expected
    assert any(line.startswith("first operation enter") for line in expected)
    assert "first operation exit" in expected


@pytest.mark.parametrize("with_async_hooks", [False, True])
def test_cached_hooks_run_synchronously_as_strawberrys_runner_runs_them(
    with_async_hooks: bool,
) -> None:
    """execute_sync: sync hooks run; an async one is refused with strawberry's error."""
    extensions: list[Any] = [SyncOnly, Plain]
    if with_async_hooks:
        extensions.append(lambda log: _recording("async", log)())
    expected = _run_sync(strawberry.Schema, extensions)
    assert _run_sync(_CachedSchema, extensions) == expected
    assert ("sync operation enter" in expected) is not with_async_hooks or any(
        "failed to complete synchronously" in line for line in expected
    )


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
