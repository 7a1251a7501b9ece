"""Case subscriptions over real websockets against `hub serve` (graphql-transport-ws).

A case escalated into a street reaches that street's subscriber and not a sibling street's;
a department's subscriber hears the assignment to it; a subscriber whose token is revoked is
disconnected (4403). Tokens come from the hub's token endpoint; mutations go over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from hub.storage.models import Grid
from hub.storage.session import create_engine, create_sessionmaker
from hub.vocabulary import GridLevel
from tests.e2e.conftest import LiveHub

pytestmark = pytest.mark.e2e

PROTOCOL = Subprotocol("graphql-transport-ws")
PURPOSE = "e2e: case events"
EVENTS = "subscription($grid: ID) { caseEvents(grid: $grid) { kind version holdingGridCode case { id state holdingGrid { code } grid { code } } } }"
DEPARTMENT = (
    "subscription { departmentCases { kind case { id state assignments { department } } } }"
)
CASE_FIELDS = "id version state holdingGrid { code }"
_keys = itertools.count(1)


@dataclass(frozen=True)
class Tree:
    street: str
    sibling_street: str
    community: str
    building: str
    sibling_building: str


@pytest.fixture(scope="module")
def tree(live_hub: LiveHub) -> Tree:
    """The seeded street and one of its buildings, and a sibling street added beside it (the
    small seed has one street) with a community and a building of its own."""
    headers = live_hub.caller_headers("admin")
    # One level at a time: a whole street's tree in one query costs more than the default bound.
    codes = "query($parent: ID) { grids(level: %s, parent: $parent) { code } }"

    def first_code(level: str, parent: str | None = None) -> str:
        answer = live_hub.graphql(codes % level, {"parent": parent}, headers=headers)
        assert answer.get("data"), answer
        return str(answer["data"]["grids"][0]["code"])

    street = first_code("STREET")
    community = first_code("COMMUNITY", street)
    building = first_code("BUILDING", community)
    sibling = asyncio.run(_add_street(live_hub.database_url, live_hub.district_code))
    return Tree(
        street=street,
        sibling_street=sibling[0],
        community=community,
        building=building,
        sibling_building=sibling[-1],
    )


async def _add_street(database_url: str, district: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            root = await session.get(Grid, district)
            assert root is not None
            parent, codes = root, []
            for level, code in zip(
                (GridLevel.STREET, GridLevel.COMMUNITY, GridLevel.BUILDING),
                (f"{district}900", f"{district}900001", f"{district}900001001"),
                strict=True,
            ):
                grid = Grid(
                    code=code, name=f"e2e {level.lower()} {code}", level=level,
                    parent_code=parent.code, path=f"{parent.path}{code}/",
                )  # fmt: skip
                session.add(grid)
                await session.flush()
                parent = grid
                codes.append(code)
    finally:
        await engine.dispose()
    return codes


class Subscriber:
    """One websocket with one subscription, authenticated in connection_init (as a browser)."""

    def __init__(self, live_hub: LiveHub, token: str, document: str, **variables: Any) -> None:
        url = live_hub.url.replace("http://", "ws://") + "/graphql"
        self._stack = contextlib.ExitStack()
        self.socket: ClientConnection = self._stack.enter_context(
            connect(url, subprotocols=[PROTOCOL], open_timeout=10)
        )
        payload = {"Authorization": f"Bearer {token}", "X-Request-Purpose": PURPOSE}
        self._send({"type": "connection_init", "payload": payload})
        assert self.receive()["type"] == "connection_ack"
        query = {"query": document, "variables": variables}
        self._send({"id": "1", "type": "subscribe", "payload": query})

    def _send(self, message: dict[str, Any]) -> None:
        self.socket.send(json.dumps(message))

    def receive(self, timeout: float = 15) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.socket.recv(timeout=timeout))
        return message

    def next_event(self, timeout: float = 15) -> dict[str, Any]:
        message = self.receive(timeout)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        event: dict[str, Any] = message["payload"]["data"]
        return event

    def events_until(self, case_id: str, kind: str, holder: str) -> list[str]:
        """Kinds of the events about `case_id`, up to `kind` leaving it held by `holder`."""
        kinds: list[str] = []
        while True:
            event = self.next_event()["caseEvents"]
            if event["case"]["id"] == case_id:
                kinds.append(event["kind"])
                if event["kind"] == kind and event["holdingGridCode"] == holder:
                    return kinds

    def close(self) -> None:
        self._stack.close()


@pytest.fixture
def subscribers() -> Iterator[list[Subscriber]]:
    opened: list[Subscriber] = []
    yield opened
    for subscriber in opened:
        subscriber.close()


def mutate(live_hub: LiveHub, headers: dict[str, str], document: str, **variables: Any) -> Any:
    result = live_hub.graphql(document, variables, headers=headers)
    assert "errors" not in result, result
    (value,) = result["data"].values()
    return value


REPORT = f"""mutation($key: String!, $grid: ID!) {{
  reportCase(idempotencyKey: $key, grid: $grid,
             case: {{category: LIVELIHOOD, subtype: ELEVATOR, description: "电梯停运"}}) {{ {CASE_FIELDS} }}
}}"""


def move(
    live_hub: LiveHub, headers: dict[str, str], verb: str, case: dict[str, Any], extra: str = ""
) -> Any:
    document = f"""mutation($id: ID!, $version: Int!, $key: String!) {{
      {verb}Case(id: $id, expectedVersion: $version, idempotencyKey: $key{extra}) {{ {CASE_FIELDS} }}
    }}"""
    return mutate(
        live_hub,
        headers,
        document,
        id=case["id"],
        version=case["version"],
        key=f"e2e-{next(_keys)}",
    )


def worker(live_hub: LiveHub, grid: str) -> dict[str, str]:
    return live_hub.caller_headers("grid_worker", grid=grid, purpose=PURPOSE)


def test_a_case_escalated_into_a_street_reaches_that_street_and_not_its_sibling(
    live_hub: LiveHub, tree: Tree, subscribers: list[Subscriber]
) -> None:
    street_token = live_hub.caller_headers("grid_worker", grid=tree.street)["Authorization"]
    sibling_token = live_hub.caller_headers("grid_worker", grid=tree.sibling_street)[
        "Authorization"
    ]
    street = Subscriber(live_hub, street_token.removeprefix("Bearer "), EVENTS)
    sibling = Subscriber(live_hub, sibling_token.removeprefix("Bearer "), EVENTS)
    subscribers += [street, sibling]
    time.sleep(0.5)  # both subscriptions are listening

    case = mutate(
        live_hub,
        worker(live_hub, tree.building),
        REPORT,
        key=f"e2e-{next(_keys)}",
        grid=tree.building,
    )
    case = move(live_hub, worker(live_hub, tree.building), "accept", case)
    case = move(live_hub, worker(live_hub, tree.building), "escalate", case)
    case = move(live_hub, worker(live_hub, tree.community), "accept", case)
    case = move(live_hub, worker(live_hub, tree.community), "escalate", case)
    assert case["holdingGrid"]["code"] == tree.street
    # Then something in the sibling street's own subtree: the first thing it hears.
    other = mutate(
        live_hub, worker(live_hub, tree.sibling_building), REPORT, key=f"e2e-{next(_keys)}",
        grid=tree.sibling_building,
    )  # fmt: skip

    heard = street.events_until(case["id"], "ESCALATED", tree.street)
    assert heard == ["REPORTED", "ESCALATED", "ESCALATED"]
    first_heard = sibling.next_event()["caseEvents"]
    assert first_heard["case"]["id"] == other["id"]
    assert first_heard["kind"] == "REPORTED"


def test_a_department_subscriber_hears_the_assignment_to_it(
    live_hub: LiveHub, tree: Tree, subscribers: list[Subscriber]
) -> None:
    health_token = live_hub.caller_headers("health_officer")["Authorization"]
    health = Subscriber(live_hub, health_token.removeprefix("Bearer "), DEPARTMENT)
    subscribers.append(health)
    time.sleep(0.5)
    dispatcher = live_hub.caller_headers("district_dispatcher", purpose=PURPOSE)

    case = mutate(
        live_hub, dispatcher, REPORT, key=f"e2e-{next(_keys)}", grid=live_hub.district_code
    )
    case = move(live_hub, dispatcher, "accept", case)
    police = move(live_hub, dispatcher, "assign", case, ", departments: [POLICE]")
    assigned = move(live_hub, dispatcher, "assign", police, ", departments: [HEALTH]")

    event = health.next_event()["departmentCases"]
    assert event["kind"] == "ASSIGNED"
    assert event["case"]["id"] == assigned["id"]
    assert {a["department"] for a in event["case"]["assignments"]} == {"POLICE", "HEALTH"}


def test_a_subscription_whose_token_is_revoked_is_closed(
    live_hub: LiveHub, tree: Tree, subscribers: list[Subscriber]
) -> None:
    client = live_hub.register_client("grid_worker", grid=tree.street)
    token = live_hub.token(client)
    subscriber = Subscriber(live_hub, token, EVENTS)
    subscribers.append(subscriber)
    time.sleep(0.5)

    revoked = httpx.post(
        f"{live_hub.url}/oauth/revoke",
        data={"token": token},
        auth=(client.client_id, client.client_secret),
    )
    assert revoked.status_code == 200

    def drain() -> None:
        while True:  # events of other tests may still arrive before the close
            subscriber.receive(timeout=15)

    with pytest.raises(ConnectionClosed) as closed:
        drain()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
    assert "revoked" in closed.value.rcvd.reason


@pytest.mark.parametrize(
    ("role", "document", "words"),
    [
        pytest.param("auditor", EVENTS, "requires the scope cases:read", id="no-scope"),
        pytest.param("dispatcher", DEPARTMENT, "department officers", id="not-a-department"),
    ],
)
def test_a_subscription_the_caller_may_not_hold_is_refused_before_it_starts(
    live_hub: LiveHub, role: str, document: str, words: str
) -> None:
    name = "district_dispatcher" if role == "dispatcher" else role
    token = live_hub.caller_headers(name)["Authorization"].removeprefix("Bearer ")
    subscriber = Subscriber(live_hub, token, document)
    try:
        message = subscriber.receive()
    finally:
        subscriber.close()

    # Refused at the root before any event: an `error` message (the protocol's refusal of an
    # operation), or a `next` carrying the error, as the executor reports it.
    assert message["type"] in ("error", "next"), message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    error = errors[0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert words in error["message"]
