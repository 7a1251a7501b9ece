"""Execution timeout: a request that runs too long is cancelled, answered TIMEOUT, audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import LiveHub
from tests.security.conftest import start_hub
from tests.security.support import (
    answers_normally,
    error_code,
    graphql_events_of,
    request_id,
    while_probed,
)

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 0.1
LOOP_CLOCK_GRANULARITY = 0.002
PAGE = (
    "residents(first: 20) { edges { node { name health { vaccinations { vaccine } } "
    "socialSecurity { insuranceEnrollments { insuranceType } } } } }"
)
# Every building's residents, grid by grid: one query per building, run one after another on
# the request's connection, ten times over. Seconds of small steps (each an await point,
# where the cancellation lands) rather than one long stretch of Python.
HEAVY = (
    "query($d: ID!) { "
    + " ".join(
        f"a{n}: grid(code: $d) {{ children {{ children {{ children {{ {PAGE} }} }} }} }}"
        for n in range(10)
    )
    + " }"
)


@pytest.fixture(scope="module")
def slow_limits_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    """A hub whose cost limits let a heavy query through, so that the timeout is what stops it."""
    with start_hub(
        tmp_path_factory.mktemp("timeout_hub"),
        HUB_EXECUTION_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        HUB_MAX_COST=str(10**15),
        HUB_MAX_RESIDENT_NODES=str(10**12),
    ) as hub:
        yield hub


def test_a_request_past_the_execution_timeout_is_cancelled_answered_timeout_and_audited(
    slow_limits_hub: LiveHub,
) -> None:
    hub = slow_limits_hub
    headers = hub.caller_headers("bulk_reader")
    rid = request_id()

    with while_probed(hub):
        response = hub.post(
            HEAVY, {"d": hub.district_code}, headers={**headers, "X-Request-Id": rid}, timeout=60
        )

    assert response.status_code == 200, response.text[:300]
    assert error_code(response) == "TIMEOUT"
    assert response.json()["data"] is None
    [event] = graphql_events_of(hub, rid)
    assert event.outcome == "TIMEOUT"
    assert event.error_codes == ["TIMEOUT"]
    # From where the timeout started; the event loop's clock (uvloop's, libuv's) counts whole
    # milliseconds, so the deadline can fall up to a millisecond before TIMEOUT_SECONDS of the
    # audit's finer clock (seen: 99.5-99.96 ms).
    assert event.duration_us >= (TIMEOUT_SECONDS - LOOP_CLOCK_GRANULARITY) * 1_000_000
    answers_normally(hub, headers)
