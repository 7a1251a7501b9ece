"""Cost budgets (429 + RateLimit headers), per-address limits and harvest quotas, across a restart.

The server here has the test roles of `conftest.TIGHT_ROLES`: `tight_clerk` may spend 60 cost
units a minute (one a second) and read 3 residents' PII a day; `tight_officer` 2 a day.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ClientCredentials, LiveHub
from tests.security.conftest import Restartable, restartable_hub
from tests.security.support import (
    alerts_of,
    answers_normally,
    error_code,
    events_of,
    graphql_events_of,
    request_id,
    while_probed,
)

pytestmark = pytest.mark.e2e

# 1 + 4 × (edge + node + health + 10 vaccinations) = 53 of the 60 units.
SPEND_MOST = (
    "{ residents(first: 4) { edges { node { name health { vaccinations { vaccine } } } } } }"
)
# 1 + 1 × 13 = 14 units: more than what is left.
SMALL = "{ residents(first: 1) { edges { node { name health { vaccinations { vaccine } } } } } }"
# 1 + 3 × 13 = 40 units: half a minute of refill after SPEND_MOST, longer than a restart.
MEDIUM = "{ residents(first: 3) { edges { node { name health { vaccinations { vaccine } } } } } }"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restartable]:
    with restartable_hub(tmp_path_factory.mktemp("budget_hub")) as served:
        yield served


def headers_for(hub: LiveHub, client: ClientCredentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.token(client)}", "X-Request-Purpose": "budget test"}


def test_a_client_past_its_cost_budget_gets_429_with_retry_after_until_it_refills(
    served: Restartable,
) -> None:
    hub = served.hub
    assert hub is not None
    client = hub.register_client("tight_clerk")
    headers = headers_for(hub, client)
    rid = request_id()

    with while_probed(hub):
        spent = hub.post(SPEND_MOST, headers=headers)
        refused = hub.post(SMALL, headers={**headers, "X-Request-Id": rid})

    assert spent.status_code == 200, spent.text[:300]
    assert spent.json()["extensions"]["cost"]["requested"] == 53
    assert spent.headers["ratelimit-policy"] == '"cost";q=60;w=60'
    assert refused.status_code == 429, refused.text[:300]
    assert error_code(refused) == "RATE_LIMITED"
    assert refused.json().get("data") is None
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 60
    remaining = re.fullmatch(r'"cost";r=(\d+);t=(\d+)', refused.headers["ratelimit"])
    assert remaining is not None
    assert int(remaining.group(1)) < 14
    [event] = graphql_events_of(hub, rid)
    assert event.outcome == "LIMITED"
    assert event.error_codes == ["RATE_LIMITED"]

    time.sleep(wait + 0.5)
    again = hub.post(SMALL, headers=headers)

    assert again.status_code == 200, again.text[:300]
    assert "errors" not in again.json()
    answers_normally(hub, hub.caller_headers("service_center_clerk", grid=hub.district_code))


def test_a_spent_budget_stays_spent_across_a_restart(served: Restartable) -> None:
    hub = served.hub
    assert hub is not None
    client = hub.register_client("tight_clerk")
    assert hub.post(SPEND_MOST, headers=headers_for(hub, client)).status_code == 200

    hub = served.restart()
    refused = hub.post(MEDIUM, headers=headers_for(hub, client))

    assert refused.status_code == 429, refused.text[:300]
    assert error_code(refused) == "RATE_LIMITED"


def test_requests_without_a_token_are_limited_per_address(served: Restartable) -> None:
    hub = served.hub
    assert hub is not None
    # From an address of its own (the loopback network is all ours), so other tests' requests
    # from 127.0.0.1 neither count nor are counted.
    transport = httpx.HTTPTransport(local_address="127.0.0.7")
    statuses: list[int] = []
    limited: list[httpx.Response] = []
    ids: list[str] = []
    started = time.monotonic()
    with while_probed(hub), httpx.Client(transport=transport, base_url=hub.url) as client:
        for _ in range(80):
            ids.append(request_id())
            response = client.post(
                "/graphql", json={"query": "{ me { clientId } }"}, headers={"X-Request-Id": ids[-1]}
            )
            statuses.append(response.status_code)
            if response.status_code == 429:
                limited.append(response)

    # The default: 60 a minute per address (one more each second, as the bucket refills).
    refilled = int(time.monotonic() - started) + 1
    assert statuses[:60] == [401] * 60
    assert statuses.count(401) <= 60 + refilled
    assert statuses[-1] == 429
    assert error_code(limited[0]) == "RATE_LIMITED"
    assert int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].headers["ratelimit-policy"] == '"anonymous";q=60;w=60'
    # Both kinds of refusal are flood-aggregated (hub/audit/floods.py): the first of each kind
    # is an event at once, the rest of the minute one counted event, written when the minute
    # ends, under the first counted request's id.
    outcomes = {e.request_id: e.outcome for e in events_of(hub, *ids)}
    expected = {401: "DENIED", 429: "LIMITED"}
    assert outcomes[ids[0]] == "DENIED"
    assert outcomes[ids[statuses.index(429)]] == "LIMITED"
    recorded = [
        (outcomes[i], expected[s]) for i, s in zip(ids, statuses, strict=True) if i in outcomes
    ]
    assert all(outcome == wanted for outcome, wanted in recorded)
    assert len(outcomes) <= 2 * 2 * 2  # two kinds, two events a minute, at most two minutes
    # A caller with a token, from the same address, is not affected.
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.7")) as client:
        headers = hub.caller_headers("service_center_clerk", grid=hub.district_code)
        ok = client.post(
            f"{hub.url}/graphql", json={"query": "{ me { clientId } }"}, headers=headers
        )
    assert ok.status_code == 200


def _residents(hub: LiveHub, count: int) -> list[str]:
    headers = hub.caller_headers("service_center_clerk", grid=hub.district_code)
    result = hub.graphql(
        f"{{ residents(first: {count}) {{ edges {{ node {{ id }} }} }} }}", headers=headers
    )
    return [edge["node"]["id"] for edge in result["data"]["residents"]["edges"]]


def _read_pii(hub: LiveHub, headers: dict[str, str], ids: list[str]) -> httpx.Response:
    selections = " ".join(
        f'r{n}: resident(id: "{rid}") {{ id name idNumber phone }}' for n, rid in enumerate(ids)
    )
    return hub.post("{ " + selections + " }", headers=headers)


def test_past_its_daily_harvest_quota_a_client_is_refused_pii_and_an_alert_is_raised(
    served: Restartable,
) -> None:
    hub = served.hub
    assert hub is not None
    client = hub.register_client("tight_clerk")
    people = _residents(hub, 5)
    rid = request_id()

    with while_probed(hub):
        first = _read_pii(hub, headers_for(hub, client), people[:3])
        time.sleep(0.2)
        over = _read_pii(hub, {**headers_for(hub, client), "X-Request-Id": rid}, people[2:5])

    assert first.status_code == 200
    assert "errors" not in first.json(), first.text[:300]
    body: dict[str, Any] = over.json()
    assert body["data"]["r0"]["idNumber"] is not None  # read before today: not counted again
    for alias in ("r1", "r2"):
        assert body["data"][alias]["idNumber"] is None
        assert body["data"][alias]["name"] is not None  # basic fields are still served
    quota_errors = [e for e in body["errors"] if e["extensions"]["code"] == "QUOTA_EXCEEDED"]
    assert sorted(tuple(e["path"]) for e in quota_errors) == sorted(
        (alias, field) for alias in ("r1", "r2") for field in ("idNumber", "phone")
    )
    events = events_of(hub, rid)
    [request_event] = [e for e in events if e.endpoint == "graphql"]
    [alert] = [e for e in events if e.endpoint == "alert/harvest-quota"]
    assert request_event.outcome == "LIMITED"
    assert "r1.idNumber" in request_event.denied_paths
    assert alert.outcome == "LIMITED"
    assert alert.error_codes == ["QUOTA_EXCEEDED"]
    assert alert.client_id == client.client_id

    # The count survives a restart; a second refusal the same day raises no second alert.
    hub = served.restart()
    again = _read_pii(hub, headers_for(hub, client), people[3:5] + people[:1])
    later = again.json()
    assert later["data"]["r0"]["idNumber"] is None
    assert later["data"]["r2"]["idNumber"] is not None
    assert len(alerts_of(hub, client.client_id)) == 1
    answers_normally(hub, hub.caller_headers("service_center_clerk", grid=hub.district_code))


def test_sensitive_fields_count_towards_the_quota_too(served: Restartable) -> None:
    hub = served.hub
    assert hub is not None
    client = hub.register_client("tight_officer")
    people = _residents(hub, 3)
    flags = " ".join(
        f'r{n}: resident(id: "{rid}") {{ name police {{ flags {{ flagType }} }} }}'
        for n, rid in enumerate(people)
    )

    response = hub.post("{ " + flags + " }", headers=headers_for(hub, client))

    body = response.json()
    assert [body["data"][f"r{n}"]["police"]["flags"] is None for n in range(3)] == [
        False,
        False,
        True,
    ]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"QUOTA_EXCEEDED"}
