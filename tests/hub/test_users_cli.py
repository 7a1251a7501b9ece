"""`hub users …` (staff accounts) and what every command says about its database: which one it
uses, that a read-only command never creates one, and failures in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app

runner = CliRunner()
PASSWORD = "correct-horse-battery"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    database = tmp_path / "hub.db"
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    return database


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return path


def _users(*args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["users", "list", "--json", *args])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_add_then_list_shows_the_account_and_never_the_password(
    env: Path, password_file: Path
) -> None:
    added = runner.invoke(
        app, ["users", "add", "auditor.li", "--role", "auditor", "--password-file",
              str(password_file), "--json"],
    )  # fmt: skip

    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["name"] == "auditor.li"
    rows = _users()
    assert [(r["name"], r["role"], r["grid"], r["status"]) for r in rows] == [
        ("auditor.li", "auditor", None, "active")
    ]
    assert PASSWORD not in added.output
    assert PASSWORD.encode() not in env.read_bytes()  # argon2 hashes only


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--role", "no_such_role"], "role"),
        (["--role", "grid_worker"], "grid"),  # a grid-scoped role needs its grid
    ],
)
def test_add_refuses_with_a_one_line_reason(
    env: Path, password_file: Path, args: list[str], reason: str
) -> None:
    result = runner.invoke(
        app, ["users", "add", "someone", *args, "--password-file", str(password_file)]
    )

    assert result.exit_code == 1
    assert reason in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_short_password_is_refused(env: Path, tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc\n", encoding="utf-8")

    result = runner.invoke(
        app, ["users", "add", "x.y", "--role", "auditor", "--password-file", str(short)]
    )

    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1


def test_without_a_terminal_or_password_file_nothing_is_added(env: Path) -> None:
    result = runner.invoke(app, ["users", "add", "x.y", "--role", "auditor"])

    assert result.exit_code == 1
    assert "--password-file" in result.output


def test_disable_and_reset_password_change_the_status(env: Path, password_file: Path) -> None:
    runner.invoke(
        app, ["users", "add", "admin.wu", "--role", "admin", "--password-file", str(password_file)]
    )

    disabled = runner.invoke(app, ["users", "disable", "admin.wu"])
    assert disabled.exit_code == 0, disabled.output
    assert _users()[0]["status"] == "disabled"
    reset = runner.invoke(
        app, ["users", "reset-password", "admin.wu", "--password-file", str(password_file)]
    )
    assert reset.exit_code == 0, reset.output
    assert _users()[0]["status"] == "disabled"  # a new password does not re-open the account
    unknown = runner.invoke(app, ["users", "disable", "nobody.here"])
    assert unknown.exit_code == 1
    assert len(unknown.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command",
    [
        ["users", "list"],
        ["clients", "list"],
        ["audit", "verify"],
        ["connectors", "status"],
        ["quarantine", "list"],
    ],
)
def test_a_read_only_command_refuses_a_missing_database_and_creates_none(
    env: Path, command: list[str]
) -> None:
    result = runner.invoke(app, command)

    assert result.exit_code == 1
    assert str(env.resolve()) in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not env.exists()


def test_verbose_names_the_database_before_the_result(env: Path) -> None:
    runner.invoke(app, ["db", "upgrade"])

    result = runner.invoke(app, ["--verbose", "users", "list", "--json"])

    assert result.exit_code == 0, result.output
    assert f"database: sqlite+aiosqlite:///{env} ({env.resolve()})" in result.stderr
    assert json.loads(result.stdout) == []


def test_audit_verify_of_an_export_needs_no_database(env: Path, tmp_path: Path) -> None:
    export = tmp_path / "empty.jsonl"
    export.write_text("", encoding="utf-8")

    result = runner.invoke(app, ["audit", "verify", "--export", str(export)])

    assert "no database at" not in result.output
    assert not env.exists()
