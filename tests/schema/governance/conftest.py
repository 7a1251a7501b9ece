"""Fixtures: the governance world of tests/governance (tree, boards, households, residents),
seen through GraphQL by staff of every role, with the world's clock at the real present
(GraphQL mutations run on the hub's own clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.storage.base import utcnow
from tests.conftest import Clients
from tests.governance.conftest import Governance
from tests.governance.conftest import gov as governance_world
from tests.schema.governance.support import Staff

__all__ = ["governance_world"]


@pytest.fixture
def world_now(governance_world: Governance) -> Governance:
    """The governance world with its clock an hour ago: set-ups happen just before the test."""
    governance_world.now = utcnow() - timedelta(hours=1)
    return governance_world


@pytest.fixture
def staff(clients: Clients) -> Staff:
    return Staff(clients)
