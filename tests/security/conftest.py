"""Hostile callers against `hub serve` on a real port: one shared server, a few special ones.

`guarded_hub` (session): a seeded district (60 residents) served with the default limits, so
the tests see what any deployment's callers see. Its policy is the shipped one plus two
test roles, `tight_clerk` and `tight_officer`, with small cost budgets and harvest quotas
(the shipped roles keep the shipped defaults), and `bulk_reader`, whose budget no request
exhausts (for tests of other bounds).

Tests that need other settings (a tiny execution timeout, a trusted proxy, a restart, a
PostgreSQL server to stop) start their own server through `start_hub` in their module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hub.auth.policy import DEFAULT_POLICY
from tests.e2e.conftest import (
    HUB_BIN,
    SEED_RESIDENTS,
    LiveHub,
    district_code,
    e2e_database,
    run_hub,
    seed_database,
)

# Budgets small enough to reach in a few requests; quotas of a handful of residents a day.
TIGHT_ROLES = """

[roles.tight_clerk]
description = "test only: a clerk with a small cost budget and harvest quota"
scopes = [
  "resident:basic", "resident:pii", "grid:read", "health:read", "social:read",
  "education:read", "police:read",
]
row_scope = "district"
cost_budget_per_minute = 60
harvest_quota_per_day = 3

[roles.tight_officer]
description = "test only: a police officer with a harvest quota of two residents a day"
scopes = ["resident:basic", "resident:pii", "grid:read", "police:read", "police:sensitive"]
row_scope = "district"
harvest_quota_per_day = 2

[roles.bulk_reader]
description = "test only: a budget no request exhausts, for tests about other bounds"
scopes = ["resident:basic", "grid:read", "health:read", "social:read"]
row_scope = "district"
cost_budget_per_minute = 1_000_000_000_000_000
"""


def write_policy(directory: Path, extra: str = TIGHT_ROLES) -> Path:
    path = directory / "policy.toml"
    path.write_text(DEFAULT_POLICY.read_text("utf-8") + extra, encoding="utf-8")
    return path


@dataclass
class Restartable:
    """A seeded district whose `hub serve` can be stopped and started again (`restart()`)."""

    directory: Path
    database_url: str
    district: str
    env: dict[str, str]
    hub: LiveHub | None = None
    _serving: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def start(self) -> LiveHub:
        settings = {
            "HUB_TOKEN_TTL_SECONDS": "3600",
            "HUB_POLICY": str(write_policy(self.directory)),
        }
        self.hub = self._serving.enter_context(
            run_hub(
                self.database_url, self.directory, district=self.district, **settings, **self.env
            )
        )
        return self.hub

    def restart(self) -> LiveHub:
        """Stop the server (SIGTERM: a graceful stop) and serve the same database again.

        The new server has a new port, so a new issuer: get new tokens for the same clients.
        """
        self._serving.close()
        self._serving = contextlib.ExitStack()
        return self.start()

    def stop(self) -> None:
        self._serving.close()


@contextlib.contextmanager
def restartable_hub(directory: Path, **env: str) -> Iterator[Restartable]:
    with e2e_database(directory) as database_url:
        seed_database(database_url, directory / "var")
        served = Restartable(directory, database_url, district_code(database_url), dict(env))
        served.start()
        try:
            yield served
        finally:
            served.stop()


@contextlib.contextmanager
def start_hub(directory: Path, *, residents: int = SEED_RESIDENTS, **env: str) -> Iterator[LiveHub]:
    """A seeded district of its own, served with `env` added to the defaults."""
    if not HUB_BIN.exists():
        pytest.fail(f"{HUB_BIN} not found: install the project (make install)", pytrace=False)
    with e2e_database(directory) as database_url:
        seed_database(database_url, directory / "var", residents=residents)
        district = district_code(database_url)
        settings = {"HUB_TOKEN_TTL_SECONDS": "3600", "HUB_POLICY": str(write_policy(directory))}
        with run_hub(database_url, directory, district=district, **{**settings, **env}) as hub:
            yield hub


@pytest.fixture(scope="session")
def guarded_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with start_hub(tmp_path_factory.mktemp("guarded_hub")) as hub:
        yield hub
