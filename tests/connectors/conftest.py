"""Connector fixtures: the fake department API on a real loopback port (one server per session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.department_api import FakeApi, serve


@pytest.fixture(scope="session")
def department_server() -> Iterator[FakeApi]:
    with serve(FakeApi()) as api:
        yield api


@pytest.fixture
def api(department_server: FakeApi) -> Iterator[FakeApi]:
    """The fake API, reset to no records, no faults and no authentication for each test."""
    department_server.reset()
    yield department_server
    department_server.reset()
