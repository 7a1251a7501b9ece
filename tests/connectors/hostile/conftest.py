"""Fixtures of the hostile-source suite: two hostile APIs (the department's, and another host)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.hostile.server import HostileApi, serve


@pytest.fixture(scope="session")
def _hostile_server() -> Iterator[HostileApi]:
    with serve(HostileApi()) as api:
        yield api


@pytest.fixture(scope="session")
def _elsewhere_server() -> Iterator[HostileApi]:
    with serve(HostileApi()) as api:
        yield api


@pytest.fixture
def hostile(_hostile_server: HostileApi) -> Iterator[HostileApi]:
    """The department's API, answering as the test says."""
    _hostile_server.reset()
    yield _hostile_server
    _hostile_server.reset()


@pytest.fixture
def elsewhere(_elsewhere_server: HostileApi) -> Iterator[HostileApi]:
    """Another host (another port is another origin): nothing of the department's goes here."""
    _elsewhere_server.reset()
    yield _elsewhere_server
    _elsewhere_server.reset()
