"""Hostile callers against `hub serve` on a real port: one shared server, a few special ones.

`guarded_hub` (session): a seeded district (60 residents) served with the default limits, so
the tests see what any deployment's callers see. Its policy is the shipped one plus two
test roles, `tight_clerk` and `tight_officer`, with small cost budgets and harvest quotas
(the shipped roles keep the shipped defaults).

Tests that need other settings (a tiny execution timeout, a trusted proxy, a restart, a
PostgreSQL server to stop) start their own server through `start_hub` in their module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.auth.policy import DEFAULT_POLICY
from tests.e2e.conftest import HUB_BIN, LiveHub, district_code, e2e_database, run_hub, seed_database

# Budgets small enough to reach in a few requests; quotas of a handful of residents a day.
TIGHT_ROLES = """

[roles.tight_clerk]
description = "test only: a clerk with a small cost budget and harvest quota"
scopes = [
  "resident:basic", "resident:pii", "grid:read", "health:read", "social:read",
  "education:read", "police:read",
]
row_scope = "district"
cost_budget_per_minute = 600
harvest_quota_per_day = 3

[roles.tight_officer]
description = "test only: a police officer with a harvest quota of two residents a day"
scopes = ["resident:basic", "resident:pii", "grid:read", "police:read", "police:sensitive"]
row_scope = "district"
harvest_quota_per_day = 2
"""


def write_policy(directory: Path, extra: str = TIGHT_ROLES) -> Path:
    path = directory / "policy.toml"
    path.write_text(DEFAULT_POLICY.read_text("utf-8") + extra, encoding="utf-8")
    return path


@contextlib.contextmanager
def start_hub(directory: Path, **env: str) -> Iterator[LiveHub]:
    """A seeded district of its own, served with `env` added to the defaults."""
    if not HUB_BIN.exists():
        pytest.fail(f"{HUB_BIN} not found: install the project (make install)", pytrace=False)
    with e2e_database(directory) as database_url:
        seed_database(database_url, directory / "var")
        district = district_code(database_url)
        settings = {"HUB_TOKEN_TTL_SECONDS": "3600", "HUB_POLICY": str(write_policy(directory))}
        with run_hub(database_url, directory, district=district, **{**settings, **env}) as hub:
            yield hub


@pytest.fixture(scope="session")
def guarded_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with start_hub(tmp_path_factory.mktemp("guarded_hub")) as hub:
        yield hub
