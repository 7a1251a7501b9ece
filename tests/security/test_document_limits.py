"""Document limits, enforced while parsing: a hostile document is refused in milliseconds.

The documents are the issue's: about a megabyte of operations, tens of thousands of inline
fragments or of repeated directives, each sent with a fresh comment so that no cache helps.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from tests.e2e.conftest import LiveHub
from tests.security.support import (
    answers_normally,
    error_code,
    graphql_events_of,
    post_body,
    request_id,
    while_probed,
)

pytestmark = pytest.mark.e2e

# Round trip of the refusal as the client sees it (sending the document included), for the
# median of three attempts: generous for a loaded 2-core machine. The hub's own work is
# measured in tests/schema/test_document_limits_cost.py.
ANSWER_WITHIN = 0.5


def _comment() -> str:
    return f"# {uuid.uuid4().hex}\n"


def many_operations(count: int = 28_000) -> str:
    return "".join(f"query q{i} {{ me {{ clientId }} }}\n" for i in range(count))


def inline_fragments(count: int = 30_000) -> str:
    return "{ me { " + " ".join("... on Me { clientId }" for _ in range(count)) + " } }"


def repeated_directives(count: int = 30_000) -> str:
    return "{ me { clientId " + " ".join("@include(if: true)" for _ in range(count)) + " } }"


def many_tokens() -> str:
    return "{ me { " + " ".join("clientId" for _ in range(3_000)) + " } }"


def many_fields_in_few_bytes() -> str:
    return "{ me { " + " ".join(f"a{n}: clientId" for n in range(40)) + " } }"


def deep() -> str:
    return "{ me { grid { " + "parent { " * 14 + "code" + " }" * 14 + " } } }"


def fragment_chain() -> str:
    chain = " ".join(f"fragment F{i} on Grid {{ code ...F{i + 1} }}" for i in range(200))
    return '{ grid(code: "1") { ...F0 } } ' + chain + " fragment F200 on Grid { code }"


# The documents are about a megabyte: past the body limit (256 KiB), they are refused
# before they are read in full (413). A fifth of that reaches the parser: past the document's
# length, token, operation, fragment, directive, alias or depth bounds (QUERY_TOO_COMPLEX).
HOSTILE: list[tuple[str, Callable[[], str], int, str]] = [
    ("a megabyte of operations", many_operations, 413, "BAD_USER_INPUT"),
    ("a megabyte of inline fragments", inline_fragments, 413, "BAD_USER_INPUT"),
    ("a megabyte of repeated directives", repeated_directives, 413, "BAD_USER_INPUT"),
    ("200 KB of operations", lambda: many_operations(6_000), 200, "QUERY_TOO_COMPLEX"),
    ("200 KB of inline fragments", lambda: inline_fragments(8_000), 200, "QUERY_TOO_COMPLEX"),
    ("200 KB of directives", lambda: repeated_directives(10_000), 200, "QUERY_TOO_COMPLEX"),
    ("thousands of tokens", many_tokens, 200, "QUERY_TOO_COMPLEX"),
    ("too many aliases", many_fields_in_few_bytes, 200, "QUERY_TOO_COMPLEX"),
    ("too deep", deep, 200, "QUERY_TOO_COMPLEX"),
    ("a long chain of fragments", fragment_chain, 200, "QUERY_TOO_COMPLEX"),
]


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_a_hostile_document_is_refused_fast(
    guarded_hub: LiveHub, make: Callable[[], str], status: int, code: str
) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    documents = [_comment() + make() for _ in range(3)]  # a changed comment defeats any cache
    ids = [request_id() for _ in documents]
    elapsed: list[float] = []
    responses = []

    with while_probed(guarded_hub):
        for rid, document in zip(ids, documents, strict=True):
            started = time.perf_counter()
            responses.append(guarded_hub.post(document, headers={**headers, "X-Request-Id": rid}))
            elapsed.append(time.perf_counter() - started)

    for response in responses:
        assert response.status_code == status, response.text[:500]
        assert error_code(response) == code, response.text[:500]
        assert "data" not in response.json() or response.json()["data"] is None
    assert sorted(elapsed)[1] < ANSWER_WITHIN, elapsed
    for rid in ids:
        [event] = graphql_events_of(guarded_hub, rid)
        assert event.outcome == ("LIMITED" if code == "QUERY_TOO_COMPLEX" else "REJECTED")
        assert event.error_codes == [code]
    answers_normally(guarded_hub, headers)


def test_several_operations_without_an_operation_name_is_an_error_not_the_first_one(
    guarded_hub: LiveHub,
) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    document = "query A { me { clientId } } query B { me { roles } }"

    unnamed = post_body(guarded_hub, {"query": document}, headers=headers)
    named = post_body(guarded_hub, {"query": document, "operationName": "B"}, headers=headers)

    assert unnamed.json().get("data") is None, unnamed.text
    assert error_code(unnamed) == "BAD_USER_INPUT"
    assert "operationName" in unnamed.json()["errors"][0]["message"]
    assert named.json() == {"data": {"me": {"roles": ["service_center_clerk"]}}} | (
        {"extensions": named.json()["extensions"]} if "extensions" in named.json() else {}
    )


def test_an_operation_name_naming_no_operation_is_bad_user_input(guarded_hub: LiveHub) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    rid = request_id()
    body = {"query": "query A { me { clientId } }", "operationName": "B"}

    response = post_body(guarded_hub, body, headers={**headers, "X-Request-Id": rid})

    assert response.json().get("data") is None, response.text
    assert error_code(response) == "BAD_USER_INPUT"
    assert "B" in response.json()["errors"][0]["message"]
    [event] = graphql_events_of(guarded_hub, rid)
    assert event.outcome == "INVALID"
