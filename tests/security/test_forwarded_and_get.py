"""X-Forwarded-For is believed only from HUB_FORWARDED_ALLOW_IPS; GET queries only when allowed.

The default server (`guarded_hub`) trusts no proxy and refuses GET queries; `proxied_hub`
trusts 127.0.0.1 as a proxy and allows GET queries (never mutations).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import LiveHub
from tests.security.conftest import start_hub
from tests.security.support import error_code, events_of, graphql_events_of, request_id

pytestmark = pytest.mark.e2e

ME = "{ me { clientId } }"


@pytest.fixture(scope="module")
def proxied_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with start_hub(
        tmp_path_factory.mktemp("proxied_hub"),
        HUB_FORWARDED_ALLOW_IPS="127.0.0.1",
        HUB_ALLOW_GET_QUERIES="true",
    ) as hub:
        yield hub


def _within_refill(statuses: list[int], started: float) -> None:
    """60 a minute per address: the first 60 are 401, then 429 but for one a second refilled."""
    assert statuses[:60] == [401] * 60
    assert statuses.count(401) <= 60 + int(time.monotonic() - started) + 1
    assert statuses[-1] == 429


def _anonymous(hub: LiveHub, forwarded_for: str, count: int) -> list[tuple[str, int]]:
    sent = []
    with httpx.Client(base_url=hub.url) as client:
        for _ in range(count):
            rid = request_id()
            response = client.post(
                "/graphql",
                json={"query": ME},
                headers={"X-Forwarded-For": forwarded_for, "X-Request-Id": rid},
            )
            sent.append((rid, response.status_code))
    return sent


def test_by_default_x_forwarded_for_is_not_believed(guarded_hub: LiveHub) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    rid = request_id()

    guarded_hub.post(ME, headers={**headers, "X-Forwarded-For": "203.0.113.9", "X-Request-Id": rid})

    [event] = graphql_events_of(guarded_hub, rid)
    assert event.client_address == "127.0.0.1"


def test_a_forged_x_forwarded_for_does_not_escape_the_per_address_limit(
    guarded_hub: LiveHub,
) -> None:
    # Each request claims another address; all of them come from 127.0.0.9.
    transport = httpx.HTTPTransport(local_address="127.0.0.9")
    statuses = []
    started = time.monotonic()
    with httpx.Client(transport=transport, base_url=guarded_hub.url) as client:
        for n in range(70):
            response = client.post(
                "/graphql", json={"query": ME}, headers={"X-Forwarded-For": f"198.51.100.{n}"}
            )
            statuses.append(response.status_code)

    _within_refill(statuses, started)


def test_from_a_trusted_proxy_the_forwarded_address_is_the_clients_for_audit_and_limits(
    proxied_hub: LiveHub,
) -> None:
    headers = proxied_hub.caller_headers("service_center_clerk", grid=proxied_hub.district_code)
    rid = request_id()

    proxied_hub.post(
        ME, headers={**headers, "X-Forwarded-For": "203.0.113.9, 127.0.0.1", "X-Request-Id": rid}
    )
    started = time.monotonic()
    first = _anonymous(proxied_hub, "198.51.100.1", 70)
    other = _anonymous(proxied_hub, "198.51.100.2", 3)

    [event] = graphql_events_of(proxied_hub, rid)
    assert event.client_address == "203.0.113.9"
    _within_refill([status for _, status in first], started)
    assert [status for _, status in other] == [401] * 3  # another client behind the proxy
    addresses = {e.client_address for e in events_of(proxied_hub, *(rid for rid, _ in first))}
    assert addresses == {"198.51.100.1"}


def test_get_queries_run_when_allowed_but_a_get_mutation_is_refused_and_audited(
    proxied_hub: LiveHub,
) -> None:
    headers = proxied_hub.caller_headers("service_center_clerk", grid=proxied_hub.district_code)
    rid = request_id()

    query = httpx.get(f"{proxied_hub.url}/graphql", params={"query": ME}, headers=headers)
    mutation = httpx.get(
        f"{proxied_hub.url}/graphql",
        params={"query": "mutation { noSuchMutation }"},
        headers={**headers, "X-Request-Id": rid},
    )

    assert query.status_code == 200
    assert query.json()["data"]["me"]["clientId"]
    assert mutation.status_code == 405, mutation.text
    assert mutation.headers["allow"] == "POST"
    assert error_code(mutation) == "BAD_USER_INPUT"
    [event] = graphql_events_of(proxied_hub, rid)
    assert event.outcome == "REJECTED"
    assert event.error_codes == ["BAD_USER_INPUT"]
