"""Every input argument is bounded: out-of-range input is BAD_USER_INPUT, never an internal error."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveHub
from tests.security.support import (
    answers_normally,
    graphql_events_of,
    post_body,
    request_id,
    while_probed,
)

pytestmark = pytest.mark.e2e

RESIDENTS = "query($f: ResidentFilter) { residents(filter: $f, first: 5) { totalCount } }"
PAGE = "query($a: String) { residents(first: 5, after: $a) { totalCount } }"
LOOKUP = "query($n: String) { resident(idNumber: $n) { name } }"
EVENTS = "query($f: AuditFilter) { auditEvents(filter: $f, first: 1) { totalCount } }"
REPORT = (
    'query($from: DateTime) { residentAccessReport(residentId: "r-1", from: $from) { residentId } }'
)
# As long as a body may carry (256 KiB; a megabyte is refused with 413 before GraphQL).
LONG = "张" * 60_000

# (case id, role, query, variables, word the message must contain)
CASES: list[tuple[str, str, str, dict[str, Any], str]] = [
    (
        "huge minimum age",
        "service_center_clerk",
        RESIDENTS,
        {"f": {"minAge": 2_000_000_000}},
        "minAge",
    ),
    ("negative maximum age", "service_center_clerk", RESIDENTS, {"f": {"maxAge": -1}}, "maxAge"),
    (
        "minimum age beyond maximum",
        "service_center_clerk",
        RESIDENTS,
        {"f": {"minAge": 90, "maxAge": 10}},
        "minAge",
    ),
    (
        "long name prefix",
        "service_center_clerk",
        RESIDENTS,
        {"f": {"namePrefix": LONG}},
        "namePrefix",
    ),
    ("long cursor", "service_center_clerk", PAGE, {"a": LONG}, "after"),
    ("long ID number", "service_center_clerk", LOOKUP, {"n": LONG}, "idNumber"),
    (
        "naive date-time in a filter",
        "auditor",
        EVENTS,
        {"f": {"from": "2026-01-01T00:00:00"}},
        "time zone",
    ),
    ("naive date-time argument", "auditor", REPORT, {"from": "2026-01-01T08:00:00"}, "time zone"),
    ("long client id filter", "auditor", EVENTS, {"f": {"clientId": LONG}}, "clientId"),
]


@pytest.mark.parametrize(
    ("role", "query", "variables", "word"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_out_of_range_input_is_bad_user_input(
    guarded_hub: LiveHub, role: str, query: str, variables: dict[str, Any], word: str
) -> None:
    grid = guarded_hub.district_code if role == "service_center_clerk" else None
    headers = guarded_hub.caller_headers(role, grid=grid)
    rid = request_id()

    with while_probed(guarded_hub):
        response = post_body(
            guarded_hub,
            {"query": query, "variables": variables},
            headers={**headers, "X-Request-Id": rid},
        )

    assert response.status_code == 200, response.text[:500]
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"], errors
    assert word in errors[0]["message"], errors
    [event] = graphql_events_of(guarded_hub, rid)
    assert event.outcome in {"INVALID", "PARTIAL"}
    assert event.error_codes == ["BAD_USER_INPUT"]
    answers_normally(
        guarded_hub,
        guarded_hub.caller_headers("service_center_clerk", grid=grid or guarded_hub.district_code),
    )
