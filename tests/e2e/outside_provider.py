"""A real OpenID Connect provider for tests: node oidc-provider (tests/e2e/oidc/provider.mjs)
on a loopback port, started from a configuration dict and stopped on exit.

Used by the outside issuer's bearer-token tests (client credentials) and by sign-in to the
consoles at an outside provider (authorization code flow at the provider's own login page).
Skipped, loudly, when node or oidc-provider is missing (a failure with HUB_REQUIRE_GATEWAY=1).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.e2e.conftest import (
    NODE_MODULES,
    REPO_ROOT,
    REQUIRE_GATEWAY,
    _node_env,
    _process,
    _wait_until,
)

PROVIDER = Path(__file__).resolve().parent / "oidc" / "provider.mjs"

# The city's identity provider as the consoles' sign-in tests trust it.
NAME = "citysso"
LABEL = "市统一身份认证"
CONSOLE_CLIENT = "gridhub-console"


def city_issuer_toml(provider: str, secret_file: Path) -> str:
    """The `[[issuers]]` entry trusting `provider` for bearer tokens and console sign-in."""
    return f"""
[[issuers]]
issuer = "{provider}"
jwks_uri = "{provider}/jwks"
audience = "urn:gridhub"
algorithms = ["RS256"]
allowed_roles = ["service_center_clerk", "grid_worker"]
role_map = {{ "窗口人员" = "service_center_clerk", "网格员" = "grid_worker" }}
name = "{NAME}"
display_name = "{LABEL}"
console_client_id = "{CONSOLE_CLIENT}"
console_client_secret_file = "{secret_file}"
console_scopes = ["openid", "roles"]
"""


def new_key() -> dict[str, Any]:
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    return {**key.as_dict(private=True), "use": "sig", "alg": "RS256"}


def node_with_provider() -> str:
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "`node` is not on PATH (install Node.js >= 20, then `npm ci`)"
    elif not (NODE_MODULES / "oidc-provider" / "package.json").exists():
        problem = f"node_modules lacks oidc-provider (run `npm ci` in {REPO_ROOT})"
    if problem is None:
        assert node is not None
        return node
    message = f"OUTSIDE ISSUER E2E TESTS NOT RUN: {problem}"
    if REQUIRE_GATEWAY:
        pytest.fail(f"{message}; HUB_REQUIRE_GATEWAY=1 requires them", pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def provider_process(directory: Path, config: dict[str, Any]) -> Iterator[tuple[str, Path]]:
    """The provider running with `config` (provider.mjs's CONFIG.json): its issuer URL and
    its log file."""
    node = node_with_provider()
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "provider.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    log_path, stdout_path = directory / "provider.log", directory / "provider.out"
    command = [node, str(PROVIDER), "--config", str(config_path)]
    with _process(
        command, env=_node_env(), log_path=log_path, stdout_path=stdout_path, pipe_stdin=True
    ) as process:
        origin: list[str] = []

        def listening() -> bool:
            line = stdout_path.read_text(encoding="utf-8").partition("\n")[0]
            if line.startswith("listening on "):
                origin.append(line.removeprefix("listening on "))
                return True
            return False

        _wait_until(listening, process=process, what="oidc-provider", log_path=log_path)
        yield origin[0], log_path


def add_clients(issuer: str, *clients: dict[str, Any]) -> None:
    """Register more clients at the running provider (it is rebuilt behind its port)."""
    response = httpx.post(f"{issuer}/_test/clients", json={"clients": list(clients)}, timeout=10)
    assert response.status_code == 204, response.text
