"""Document limits while parsing: each bound refuses with QUERY_TOO_COMPLEX, and the worst
documents cost the event loop a few milliseconds of parsing and validation, never seconds."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from graphql import GraphQLError, specified_rules, validate

from schema.build import build_schema
from schema.rules.limits import DocumentLimits, DocumentTooComplexError, parse_within

LIMITS = DocumentLimits()
SCHEMA = build_schema()._schema
BUDGET_SECONDS = 0.05  # of CPU, for parsing and validating one request's document


def _refused(source: str) -> DocumentTooComplexError:
    with pytest.raises(DocumentTooComplexError) as refused:
        parse_within(source, LIMITS)
    return refused.value


@pytest.mark.parametrize(
    ("source", "bound"),
    [
        ("{ me { clientId } }" + " " * 40_000, "maximumCharacters"),
        ("{ me { " + "clientId " * 1200 + "} }", "maximumTokens"),
        ("{ me { clientId } }" + "\n#" * 1200, "maximumTokens"),
        ("".join(f"query q{i} {{ me {{ roles }} }} " for i in range(9)), "maximumOperations"),
        ("{ me { " + "... on Me { roles } " * 65 + "} }", "maximumFragments"),
        ("{ me { roles " + "@include(if: true) " * 33 + "} }", "maximumDirectives"),
        ("{ " + " ".join(f"a{i}: me {{ roles }}" for i in range(31)) + " }", "maximumAliases"),
        ("{ me { grid { " + "parent { " * 12 + "code" + " }" * 12 + " } } }", "maximumDepth"),
        ("{ me { " + "roles " * 17 + "} }", "maximumRepeats"),
        ("{ me { " + "... on Me { roles } " * 17 + "} }", "maximumRepeats"),
    ],
    ids=[
        "characters",
        "tokens",
        "comments",
        "operations",
        "fragments",
        "directives",
        "aliases",
        "depth",
        "repeated field",
        "repeated through fragments",
    ],
)
def test_each_bound_refuses_with_query_too_complex_naming_it(source: str, bound: str) -> None:
    error = _refused(source)

    assert (error.extensions or {})["code"] == "QUERY_TOO_COMPLEX"
    assert bound in (error.extensions or {})


def test_documents_within_the_bounds_parse() -> None:
    document = parse_within(
        "query A { me { clientId grid { name parent { name } } } } "
        "query B { residents(first: 1) { edges { node { ...R } } } } "
        "fragment R on Resident { id name }",
        LIMITS,
    )

    assert len(document.definitions) == 3


def _seconds_of_cpu(work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):  # the best of three: other processes share these machines' cores
        started = time.thread_time()
        work()
        best = min(best, time.thread_time() - started)
    return best


def _parse_and_validate(source: str) -> None:
    try:
        document = parse_within(source, LIMITS)
    except GraphQLError:
        return
    validate(SCHEMA, document, specified_rules)


HOSTILE = {
    "a megabyte of operations": "".join(
        f"query q{i} {{ me {{ clientId }} }}\n" for i in range(30_000)
    ),
    "inline fragments": "{ me { " + "... on Me { clientId } " * 30_000 + "} }",
    "repeated directives": "{ me { clientId " + "@include(if: true) " * 30_000 + "} }",
    "just under the token bound": "{ me { " + "clientId " * 990 + "} }",
    "fragments just under their bound": "{ me { ...F0 } } "
    + " ".join(f"fragment F{i} on Me {{ roles ...F{i + 1} }}" for i in range(60))
    + " fragment F60 on Me { roles }",
    "distinct fields to the bound": "{ residents { edges { node { "
    + " ".join(f"a{i}: name" for i in range(30))
    + " name age tags idNumber phone address birthDate gender maskedIdNumber } } } }",
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_no_document_costs_more_than_fifty_milliseconds_to_parse_and_validate(source: str) -> None:
    assert _seconds_of_cpu(lambda: _parse_and_validate(source)) < BUDGET_SECONDS
