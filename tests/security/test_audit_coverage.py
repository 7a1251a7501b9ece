"""Every request that reaches a GraphQL endpoint leaves exactly one audit event with the right
outcome, whatever the refusal (DESIGN.md, "Audit"; issue 12, "Coverage").

One row per refusal class, each against the running server. Classes with their own tests:
transport refusals (test_http_limits.py: batch, content type, body not JSON, deep JSON
variables, non-string operationName, body and header sizes → REJECTED), GET mutations
(test_forwarded_and_get.py → REJECTED), load shedding (test_overload.py → LIMITED), the
execution timeout (test_timeout.py → TIMEOUT), rate limits and quotas
(test_budgets_and_quotas.py → LIMITED), and an internal error
(tests/audit/test_trail.py::test_hub_failure_is_audited_as_error → ERROR).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LiveHub
from tests.security.support import graphql_events_of, request_id

pytestmark = pytest.mark.e2e

CLERK = ("service_center_clerk", True)
AUDITOR = ("auditor", False)
HEALTH = ("health_officer", False)
NOBODY = (None, False)

# (class, caller, body, purpose?, outcome, codes)
CASES: list[tuple[str, tuple[str | None, bool], dict[str, Any], bool, str, list[str]]] = [
    ("answered", CLERK, {"query": "{ me { clientId } }"}, True, "OK", []),
    ("parse error", CLERK, {"query": "{ me { "}, True, "INVALID", ["BAD_USER_INPUT"]),
    ("validation error", CLERK, {"query": "{ nosuch }"}, True, "INVALID", ["BAD_USER_INPUT"]),
    (
        "several operations, no name",
        CLERK,
        {"query": "query A { me { roles } } query B { me { roles } }"},
        True,
        "INVALID",
        ["BAD_USER_INPUT"],
    ),
    ("no token", NOBODY, {"query": "{ me { clientId } }"}, True, "DENIED", ["UNAUTHENTICATED"]),
    (
        "forbidden",
        AUDITOR,
        {"query": "{ residents(first: 1) { totalCount } }"},
        True,
        "DENIED",
        ["FORBIDDEN"],
    ),
    (
        "no purpose",
        CLERK,
        {"query": "{ residents(first: 1) { totalCount } }"},
        False,
        "DENIED",
        ["PURPOSE_REQUIRED"],
    ),
    (
        "partly forbidden",
        HEALTH,
        {"query": "{ residents(first: 1) { edges { node { name police { flags { note } } } } } }"},
        True,
        "PARTIAL",
        ["FORBIDDEN"],
    ),
    (
        "document limit",
        CLERK,
        {"query": "{ " + " ".join(f"a{n}: me {{ roles }}" for n in range(31)) + " }"},
        True,
        "LIMITED",
        ["QUERY_TOO_COMPLEX"],
    ),
    (
        "cost limit",
        CLERK,
        {"query": "{ grids { residents(first: 500) { edges { node { name } } } } }"},
        True,
        "LIMITED",
        ["QUERY_TOO_COMPLEX"],
    ),
    (
        "bad input",
        CLERK,
        {"query": "{ residents(first: 501) { totalCount } }"},
        True,
        "INVALID",
        ["BAD_USER_INPUT"],
    ),
]


@pytest.mark.parametrize(
    ("caller", "body", "purpose", "outcome", "codes"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_refusal_class_leaves_exactly_one_event_with_its_outcome(
    guarded_hub: LiveHub,
    caller: tuple[str | None, bool],
    body: dict[str, Any],
    purpose: bool,
    outcome: str,
    codes: list[str],
) -> None:
    role, grid = caller
    headers: dict[str, str] = {}
    if role is not None:
        headers = dict(
            guarded_hub.caller_headers(role, grid=guarded_hub.district_code if grid else None)
        )
    if not purpose:
        headers.pop("X-Request-Purpose", None)
    rid = request_id()

    # Refusals for want of a token are flood-aggregated per address and minute (only the
    # first of a minute is an event at once): this one comes from an address of its own.
    address = "127.0.0.11" if role is None else "127.0.0.1"
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address)) as client:
        client.post(
            f"{guarded_hub.url}/graphql", json=body, headers={**headers, "X-Request-Id": rid}
        )

    [event] = graphql_events_of(guarded_hub, rid)
    assert (event.outcome, event.error_codes) == (outcome, codes)
