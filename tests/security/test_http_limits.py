"""HTTP limits before any GraphQL work: sizes, content types, JSON shape, GET, media types.

Each refusal is answered in the GraphQL response format with a code, leaves one audit event
with outcome REJECTED, keeps /healthz answering, and the next ordinary query works.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.conftest import LiveHub
from tests.security.support import (
    answers_normally,
    error_code,
    graphql_events_of,
    post_raw,
    request_id,
    while_probed,
)

pytestmark = pytest.mark.e2e

ME = "{ me { clientId } }"


def deep_variables(depth: int) -> str:
    query = "query($f: ResidentFilter) { residents(filter: $f, first: 1) { totalCount } }"
    return '{"query": "' + query + '", "variables": {"f": ' + ("[" * depth + "]" * depth) + "}}"


# (case id, body, content type, expected status)
MALFORMED = [
    ("body not JSON", b'{"query": "{ me { clientId } }"', "application/json", 400),
    ("batch array", json.dumps([{"query": ME}, {"query": ME}]).encode(), "application/json", 400),
    (
        "operationName not a string",
        json.dumps({"query": ME, "operationName": 7}).encode(),
        "application/json",
        400,
    ),
    (
        "query not a string",
        json.dumps({"query": ["{ me { clientId } }"]}).encode(),
        "application/json",
        400,
    ),
    (
        "variables not an object",
        json.dumps({"query": ME, "variables": [1]}).encode(),
        "application/json",
        400,
    ),
    ("no query", json.dumps({"variables": {}}).encode(), "application/json", 400),
    ("deep JSON variables", deep_variables(5000).encode(), "application/json", 400),
    ("JSON variables nested past the limit", deep_variables(40).encode(), "application/json", 400),
    ("form body", b"query=%7B+me+%7B+clientId+%7D+%7D", "application/x-www-form-urlencoded", 415),
    ("text/plain body", ME.encode(), "text/plain", 415),
    ("GraphQL body", ME.encode(), "application/graphql", 415),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_requests_are_refused_before_graphql_and_audited_as_rejected(
    guarded_hub: LiveHub, body: bytes, content_type: str, status: int
) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    rid = request_id()

    with while_probed(guarded_hub):
        response = post_raw(
            guarded_hub,
            body,
            headers={**headers, "X-Request-Id": rid},
            content_type=content_type,
        )

    assert response.status_code == status, response.text
    assert error_code(response) == "BAD_USER_INPUT"
    [event] = graphql_events_of(guarded_hub, rid)
    assert event.outcome == "REJECTED"
    assert event.error_codes == ["BAD_USER_INPUT"]
    assert event.client_id is not None  # authenticated first: the trail says who sent it
    answers_normally(guarded_hub, headers)


def test_a_body_over_the_limit_is_refused_with_413_without_being_read(
    guarded_hub: LiveHub,
) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    rid = request_id()
    body = json.dumps({"query": ME, "variables": {"pad": "x" * (2 * 1024 * 1024)}}).encode()

    with while_probed(guarded_hub):
        response = post_raw(guarded_hub, body, headers={**headers, "X-Request-Id": rid})

    assert response.status_code == 413, response.text
    assert error_code(response) == "BAD_USER_INPUT"
    [event] = graphql_events_of(guarded_hub, rid)
    assert event.outcome == "REJECTED"
    answers_normally(guarded_hub, headers)


@pytest.mark.parametrize(
    "extra",
    [
        {f"X-Filler-{n}": "x" for n in range(120)},
        {"X-Filler": "x" * (20 * 1024)},
    ],
    ids=["too many headers", "one header too large"],
)
def test_headers_over_the_limit_are_refused_with_431(
    guarded_hub: LiveHub, extra: dict[str, str]
) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    rid = request_id()

    with while_probed(guarded_hub):
        response = guarded_hub.post(ME, headers={**headers, **extra, "X-Request-Id": rid})

    assert response.status_code == 431, response.text
    assert error_code(response) == "BAD_USER_INPUT"
    [event] = graphql_events_of(guarded_hub, rid)
    assert event.outcome == "REJECTED"
    answers_normally(guarded_hub, headers)


def test_get_queries_are_off_by_default(guarded_hub: LiveHub) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    rid = request_id()

    response = httpx.get(
        f"{guarded_hub.url}/graphql",
        params={"query": ME},
        headers={**headers, "X-Request-Id": rid},
    )

    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    assert error_code(response) == "BAD_USER_INPUT"
    [event] = graphql_events_of(guarded_hub, rid)
    assert event.outcome == "REJECTED"


def test_the_graphiql_page_is_still_served_on_get(guarded_hub: LiveHub) -> None:
    response = httpx.get(f"{guarded_hub.url}/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


def test_graphql_response_json_is_answered_per_the_graphql_over_http_spec(
    guarded_hub: LiveHub,
) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    accept = {**headers, "Accept": "application/graphql-response+json"}

    ok = guarded_hub.post(ME, headers=accept)
    invalid = guarded_hub.post("{ me { nosuchfield } }", headers=accept)
    unparsable = guarded_hub.post("{ me { ", headers=accept)
    legacy = guarded_hub.post("{ me { nosuchfield } }", headers=headers)

    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("application/graphql-response+json")
    assert ok.json()["data"]["me"]["clientId"]
    for response in (invalid, unparsable):  # a request error: 4xx, no `data` entry at all
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/graphql-response+json")
        assert "data" not in response.json()
        assert error_code(response) == "BAD_USER_INPUT"
    assert legacy.status_code == 200  # application/json: a well-formed GraphQL response is 200
    assert legacy.headers["content-type"].startswith("application/json")
