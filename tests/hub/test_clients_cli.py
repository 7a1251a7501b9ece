"""`hub clients …` and `hub keys …` through typer's CliRunner, on a temporary SQLite database."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import typer
from joserfc.jwk import ECKey
from typer.testing import CliRunner

from hub.auth import clients
from hub.auth.cli import clients_app, keys_app
from hub.auth.client_secrets import ClientSecretHasher
from hub.config import Settings
from hub.storage import migrations
from hub.storage.session import create_sessionmaker
from tests.conftest import open_engine

app = typer.Typer()
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")

GRID = "410105001"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with one street grid, copied for every test."""
    path = tmp_path_factory.mktemp("cli-template") / "hub.db"
    migrations.upgrade(f"sqlite+aiosqlite:///{path}")
    connection = sqlite3.connect(path)
    try:
        connection.executemany(
            "INSERT INTO grids (code, name, level, parent_code, path, created_at)"
            " VALUES (?, ?, ?, ?, ?, '2025-01-01 00:00:00.000000')",
            [
                ("410105", "金水区", "DISTRICT", None, "410105/"),
                (GRID, "经八路街道", "STREET", "410105", f"410105/{GRID}/"),
            ],
        )
        connection.commit()
    finally:
        connection.close()  # the last connection checkpoints the WAL into the file we copy
    return path


@pytest.fixture
def env(template: Path, tmp_path: Path) -> dict[str, str]:
    database = tmp_path / "hub.db"
    shutil.copyfile(template, database)
    return {
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "HUB_VAR_DIR": str(tmp_path / "var"),
        "HUB_ENV": "dev",
    }


def hub(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=env)


def secret_works(env: dict[str, str], client_id: str, secret: str) -> bool:
    async def check() -> bool:
        engine = open_engine(env["HUB_DATABASE_URL"])
        try:
            async with create_sessionmaker(engine)() as session:
                settings = Settings(
                    database_url=env["HUB_DATABASE_URL"], var_dir=env["HUB_VAR_DIR"]
                )
                client = await clients.authenticate_client_secret(
                    session,
                    client_id=client_id,
                    secret=secret,
                    hasher=ClientSecretHasher.from_settings(settings),
                )
                return client is not None
        finally:
            await engine.dispose()

    return asyncio.run(check())


# --- clients ---------------------------------------------------------------------------------


def test_add_json_prints_exactly_the_credentials(env: dict[str, str]) -> None:
    result = hub(
        env, "clients", "add", "grid office", "--role", "grid_worker", "--grid", GRID, "--json"
    )

    assert result.exit_code == 0, result.output
    credentials = json.loads(result.stdout)
    assert list(credentials) == ["client_id", "client_secret"]
    assert credentials["client_id"].startswith("gh_")
    assert secret_works(env, credentials["client_id"], credentials["client_secret"])
    assert not secret_works(env, credentials["client_id"], "guess")


def test_add_prints_id_and_secret_once_in_text_mode(env: dict[str, str]) -> None:
    result = hub(env, "clients", "add", "health bureau", "--role", "health_officer")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("client_id: gh_")
    assert lines[1].startswith("client_secret: ")
    assert "not shown again" in result.stderr


def test_list_shows_clients_with_their_effective_scopes(env: dict[str, str]) -> None:
    added = json.loads(
        hub(env, "clients", "add", "ro", "--role", "health_officer", "--scope", "resident:basic",
            "--scope", "health:read", "--auth-method", "client_secret_post", "--json").stdout
    )  # fmt: skip

    result = hub(env, "clients", "list", "--json")

    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["client_id"] == added["client_id"]
    assert row["role"] == "health_officer"
    assert row["scopes"] == ["health:read", "resident:basic"]
    assert row["auth_method"] == "client_secret_post"
    assert row["revoked_at"] is None
    assert "client_secret" not in row


def test_list_prints_a_table(env: dict[str, str]) -> None:
    hub(env, "clients", "add", "audit office", "--role", "auditor")

    result = hub(env, "clients", "list")

    assert result.exit_code == 0, result.output
    assert "auditor" in result.stdout


def test_private_key_jwt_client_registers_its_public_keys(
    env: dict[str, str], tmp_path: Path
) -> None:
    jwks = tmp_path / "client.jwks.json"
    key = ECKey.generate_key("P-256", private=True)
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))

    result = hub(env, "clients", "add", "police sync", "--role", "police_officer",
                 "--auth-method", "private_key_jwt", "--jwks", str(jwks), "--json")  # fmt: skip

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["client_secret"] is None


def _private_jwks(tmp_path: Path) -> str:
    path = tmp_path / "private.jwks.json"
    key = ECKey.generate_key("P-256", private=True)
    path.write_text(json.dumps({"keys": [key.as_dict(private=True)]}))
    return str(path)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        pytest.param(["--role", "janitor"], "unknown role", id="unknown-role"),
        pytest.param(["--role", "grid_worker"], "--grid", id="grid-role-without-grid"),
        pytest.param(["--role", "grid_worker", "--grid", "999"], "no grid", id="unknown-grid"),
        pytest.param(["--role", "auditor", "--grid", GRID], "not grid-scoped", id="grid-for-district-role"),
        pytest.param(["--role", "auditor", "--scope", "admin"], "cannot hold admin", id="scope-beyond-role"),
        pytest.param(["--role", "auditor", "--auth-method", "private_key_jwt"], "JWK Set", id="jwt-without-jwks"),
        pytest.param(["--role", "auditor", "--auth-method", "private_key_jwt", "--jwks", "PRIVATE"], "private key", id="private-jwks"),
    ],
)  # fmt: skip
def test_add_refuses_with_a_one_line_reason(
    env: dict[str, str], tmp_path: Path, args: list[str], reason: str
) -> None:
    args = [_private_jwks(tmp_path) if arg == "PRIVATE" else arg for arg in args]

    result = hub(env, "clients", "add", "some client", *args, "--json")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert reason in result.stderr
    assert json.loads(hub(env, "clients", "list", "--json").stdout) == []


def test_revoke_marks_the_client_revoked(env: dict[str, str]) -> None:
    added = json.loads(hub(env, "clients", "add", "c", "--role", "auditor", "--json").stdout)

    result = hub(env, "clients", "revoke", added["client_id"])

    assert result.exit_code == 0, result.output
    (row,) = json.loads(hub(env, "clients", "list", "--json").stdout)
    assert row["revoked_at"] is not None
    assert not secret_works(env, added["client_id"], added["client_secret"])


def test_revoke_of_an_unknown_client_fails(env: dict[str, str]) -> None:
    result = hub(env, "clients", "revoke", "gh_nobody")

    assert result.exit_code == 1
    assert "no client 'gh_nobody'" in result.stderr


def test_rotate_secret_replaces_the_secret(env: dict[str, str]) -> None:
    added = json.loads(hub(env, "clients", "add", "c", "--role", "auditor", "--json").stdout)

    result = hub(env, "clients", "rotate-secret", added["client_id"], "--json")

    assert result.exit_code == 0, result.output
    rotated = json.loads(result.stdout)
    assert rotated["client_id"] == added["client_id"]
    assert rotated["client_secret"] != added["client_secret"]
    assert secret_works(env, added["client_id"], rotated["client_secret"])
    assert not secret_works(env, added["client_id"], added["client_secret"])


def test_the_database_is_migrated_first(tmp_path: Path) -> None:
    env = {
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/fresh/hub.db",
        "HUB_VAR_DIR": str(tmp_path / "var"),
    }

    result = hub(env, "clients", "add", "c", "--role", "auditor", "--json")

    assert result.exit_code == 0, result.output


# --- keys ------------------------------------------------------------------------------------


def test_keys_rotate_adds_a_signer_and_list_shows_both(env: dict[str, str]) -> None:
    first = hub(env, "keys", "rotate", "--json")
    second = hub(env, "keys", "rotate", "--algorithm", "RS256", "--json")

    assert first.exit_code == second.exit_code == 0, first.output + second.output
    new = json.loads(second.stdout)
    assert new["alg"] == "RS256"
    assert new["status"] == "signing"
    assert new["pruned"] == []
    listed = json.loads(hub(env, "keys", "list", "--json").stdout)
    assert [(key["kid"], key["status"]) for key in listed] == [
        (new["kid"], "signing"),
        (json.loads(first.stdout)["kid"], "verifying"),
    ]
    for key in listed:
        assert Path(key["path"]).stat().st_mode & 0o077 == 0


def test_keys_rotate_refuses_other_algorithms(env: dict[str, str]) -> None:
    result = hub(env, "keys", "rotate", "--algorithm", "HS256")

    assert result.exit_code == 1
    assert "unsupported algorithm" in result.stderr


def test_keys_list_does_not_create_keys_in_prod(env: dict[str, str], tmp_path: Path) -> None:
    result = hub({**env, "HUB_ENV": "prod"}, "keys", "list", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    assert not (tmp_path / "var" / "keys").exists()


def test_keys_rotate_prints_the_key_in_text_mode(env: dict[str, str]) -> None:
    result = hub(env, "keys", "rotate")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("signing key ")
