"""The shape of a GraphQL request over HTTP, checked before any GraphQL work."""

from __future__ import annotations

import orjson
import pytest

from hub.limits.refusals import Refusal
from hub.limits.requests import (
    HttpLimits,
    check_headers,
    nesting_depth,
    read_get,
    read_post,
    wants_graphql_response_json,
)

LIMITS = HttpLimits()


def test_a_well_formed_body_is_read() -> None:
    body = orjson.dumps({"query": "{ me { clientId } }", "operationName": None, "variables": {}})

    request = read_post(body, LIMITS)

    assert request.query == "{ me { clientId } }"
    assert request.operation_name is None
    assert request.variables == {}


@pytest.mark.parametrize(
    ("body", "word"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "batched"),
        (b'"query"', "JSON object"),
        (b'{"query": 1}', "`query`"),
        (b'{"query": "  "}', "`query`"),
        (b'{"query": "{ a }", "operationName": 1}', "`operationName`"),
        (b'{"query": "{ a }", "variables": "x"}', "`variables`"),
        (b'{"query": "{ a }", "extensions": []}', "`extensions`"),
        (b'{"query": "{ a }", "variables": {"a": ' + b"[" * 17 + b"]" * 17 + b"}}", "nested"),
        (b'{"query": "{ a }", "variables": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}", "JSON"),
    ],
    ids=[
        "not JSON",
        "batch",
        "not an object",
        "query not a string",
        "empty query",
        "operationName not a string",
        "variables not an object",
        "extensions not an object",
        "variables too deep",
        "deeper than any parser",
    ],
)
def test_a_malformed_body_is_a_400_naming_the_problem(body: bytes, word: str) -> None:
    with pytest.raises(Refusal) as refused:
        read_post(body, LIMITS)

    assert refused.value.status == 400
    assert word in refused.value.message


def test_get_queries_are_refused_unless_allowed_and_the_graphiql_page_is_not_a_query() -> None:
    with pytest.raises(Refusal) as refused:
        read_get({"query": "{ a }"}, LIMITS)

    assert refused.value.status == 405
    assert refused.value.headers == {"Allow": "POST"}
    assert read_get({}, LIMITS) is None
    allowed = read_get(
        {"query": "{ a }", "variables": '{"x": 1}'}, HttpLimits(allow_get_queries=True)
    )
    assert allowed is not None
    assert allowed.variables == {"x": 1}


@pytest.mark.parametrize(
    "headers",
    [
        [(b"x-%d" % n, b"v") for n in range(65)],
        [(b"x-big", b"v" * (16 * 1024 + 1))],
        [(b"x-%d" % n, b"v" * 8000) for n in range(5)],
    ],
    ids=["too many", "one too large", "too large together"],
)
def test_header_limits_answer_431(headers: list[tuple[bytes, bytes]]) -> None:
    refusal = check_headers(headers, LIMITS)

    assert refusal is not None
    assert refusal.status == 431


def test_nesting_depth_counts_objects_and_arrays_without_recursion() -> None:
    deep: list[object] = []
    inner = deep
    for _ in range(100_000):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]

    assert nesting_depth("scalar", 16) == 0
    assert nesting_depth({"a": [1, {"b": 2}]}, 16) == 3
    assert nesting_depth(deep, 16) == 17  # stops counting past the limit


@pytest.mark.parametrize(
    ("accept", "wanted"),
    [
        ("application/graphql-response+json", True),
        ("application/json, application/graphql-response+json;q=0.9", True),
        ("application/json", False),
        (None, False),
    ],
)
def test_the_graphql_response_media_type_is_answered_when_accepted(
    accept: str | None, wanted: bool
) -> None:
    assert wants_graphql_response_json(accept) is wanted
