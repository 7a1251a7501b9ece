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


def many_operations() -> str:
    return "".join(f"query q{i} {{ me {{ clientId }} }}\n" for i in range(28_000))


def inline_fragments() -> str:
    return "{ me { " + " ".join("... on Me { clientId }" for _ in range(30_000)) + " } }"


def repeated_directives() -> str:
    return "{ me { clientId " + " ".join("@include(if: true)" for _ in range(30_000)) + " } }"


def many_tokens() -> str:
    return "{ me { " + " ".join("clientId" for _ in range(3_000)) + " } }"


def many_fields_in_few_bytes() -> str:
    return "{ me { " + " ".join(f"a{n}: clientId" for n in range(40)) + " } }"


def deep() -> str:
    return "{ me { grid { " + "parent { " * 14 + "code" + " }" * 14 + " } } }"


def fragment_chain() -> str:
    chain = " ".join(f"fragment F{i} on Grid {{ code ...F{i + 1} }}" for i in range(200))
    return '{ grid(code: "1") { ...F0 } } ' + chain + " fragment F200 on Grid { code }"


HOSTILE: list[tuple[str, Callable[[], str]]] = [
    ("a megabyte of operations", many_operations),
    ("tens of thousands of inline fragments", inline_fragments),
    ("tens of thousands of repeated directives", repeated_directives),
    ("thousands of tokens", many_tokens),
    ("too many aliases", many_fields_in_few_bytes),
    ("too deep", deep),
    ("a long chain of fragments", fragment_chain),
]


@pytest.mark.parametrize("make", [case[1] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_a_hostile_document_is_refused_fast_as_query_too_complex(
    guarded_hub: LiveHub, make: Callable[[], str]
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
        assert response.status_code == 200, response.text[:500]
        assert error_code(response) == "QUERY_TOO_COMPLEX", response.text[:500]
        assert "data" not in response.json() or response.json()["data"] is None
    assert sorted(elapsed)[1] < ANSWER_WITHIN, elapsed
    for rid in ids:
        [event] = graphql_events_of(guarded_hub, rid)
        assert event.outcome == "LIMITED"
        assert event.error_codes == ["QUERY_TOO_COMPLEX"]
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
