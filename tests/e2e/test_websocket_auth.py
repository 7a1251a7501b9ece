"""Websockets at `/graphql` (graphql-transport-ws) authenticate like HTTP, or are closed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.e2e.conftest import LiveHub

pytestmark = pytest.mark.e2e

PROTOCOL = Subprotocol("graphql-transport-ws")


def ws_url(live_hub: LiveHub) -> str:
    return live_hub.url.replace("http://", "ws://") + "/graphql"


def open_socket(live_hub: LiveHub, headers: dict[str, str] | None = None) -> ClientConnection:
    return connect(
        ws_url(live_hub), subprotocols=[PROTOCOL], additional_headers=headers, open_timeout=10
    )


def receive(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(socket.recv(timeout=10))
    return message


def init(socket: ClientConnection, payload: dict[str, Any]) -> None:
    socket.send(json.dumps({"type": "connection_init", "payload": payload}))


def closed_code(socket: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=10)
    return closed.value.rcvd.code if closed.value.rcvd else None


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer not-a-token"}, id="bad-token"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="not-bearer"),
    ],
)
def test_a_websocket_without_a_valid_token_is_closed_before_any_operation(
    live_hub: LiveHub, payload: dict[str, Any]
) -> None:
    with open_socket(live_hub) as socket:
        init(socket, payload)
        assert closed_code(socket) == 4403


def test_an_operation_before_connection_init_closes_the_socket(live_hub: LiveHub) -> None:
    with open_socket(live_hub) as socket:
        socket.send(
            json.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": "{ me { clientId } }"}}
            )
        )
        assert closed_code(socket) == 4401


def test_a_handshake_with_a_bad_authorization_header_is_refused(live_hub: LiveHub) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_socket(live_hub, {"Authorization": "Bearer forged"})
    assert refused.value.response.status_code == 403


def test_a_token_in_connection_init_authenticates_the_connection(live_hub: LiveHub) -> None:
    headers = live_hub.caller_headers("auditor")
    expected = live_hub.graphql("{ me { clientId } }", headers=headers)["data"]["me"]

    with open_socket(live_hub) as socket:
        init(socket, {"Authorization": headers["Authorization"]})
        assert receive(socket)["type"] == "connection_ack"
        socket.send(
            json.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": "{ me { clientId roles } }"}}
            )
        )
        answer = receive(socket)

    assert answer["type"] == "next"
    assert answer["payload"]["data"]["me"] == {**expected, "roles": ["auditor"]}


def test_a_token_in_the_handshake_header_authenticates_the_connection(live_hub: LiveHub) -> None:
    headers = live_hub.caller_headers("auditor")

    with open_socket(live_hub, {"Authorization": headers["Authorization"]}) as socket:
        init(socket, {})
        assert receive(socket)["type"] == "connection_ack"
