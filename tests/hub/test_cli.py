"""The `hub` command line: migrations, seeding, schema export, help and failure reporting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from schema.export import SDL_DIR

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    database = tmp_path / "hub.db"
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    return database


def test_db_upgrade_creates_the_schema_and_is_idempotent(env: Path) -> None:
    first = runner.invoke(app, ["db", "upgrade"])
    second = runner.invoke(app, ["db", "upgrade"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert env.exists()


def test_seed_json_reports_the_rows_written(env: Path) -> None:
    result = runner.invoke(app, ["seed", "--residents", "120", "--seed", "3", "--json"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["counts"]["residents"] == 120
    assert summary["counts"]["grids"] == 46


def test_seeding_a_seeded_database_fails_with_a_one_line_reason(env: Path) -> None:
    runner.invoke(app, ["seed", "--residents", "10"])

    result = runner.invoke(app, ["seed", "--residents", "10"])

    assert result.exit_code == 1
    assert "already holds a district" in result.output
    assert "Traceback" not in result.output


def test_schema_export_writes_what_is_committed(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "export", "--out", str(tmp_path), "--json"])

    assert result.exit_code == 0, result.output
    written = sorted(Path(p).name for p in json.loads(result.stdout))
    assert written == sorted(p.name for p in SDL_DIR.glob("*.graphql"))
    for name in written:
        assert (tmp_path / name).read_text("utf-8") == (SDL_DIR / name).read_text("utf-8")


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["demo"],
        ["seed"],
        ["db", "upgrade"],
        ["schema", "export"],
        ["clients", "add"],
        ["clients", "list"],
        ["clients", "revoke"],
        ["keys", "rotate"],
    ],
    ids=lambda command: " ".join(command) or "hub",
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])

    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_unreachable_database_is_a_one_line_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")

    result = runner.invoke(app, ["db", "upgrade"])

    assert result.exit_code == 1
    assert result.output.startswith("error:")
    assert len(result.output.strip().splitlines()) == 1
