"""Export and offline verification: an export file and a checkpoint file are enough to verify.

The offline checks run `hub audit verify --export` with no database and no hub keys at
hand: the only keys are those the checkpoint file (kept outside the hub) carries.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from typer.testing import CliRunner, Result

from hub.audit.records import event_hash
from hub.cli import app as cli
from hub.config import Settings
from tests.conftest import GraphQLClient

Lines = list[dict[str, Any]]


async def audited_requests(gql: GraphQLClient, app: Starlette, count: int = 6) -> None:
    """`count` events with a signed checkpoint after every third."""
    for number in range(1, count + 1):
        await gql("{ me { clientId } }")
        if number % 3 == 0:
            await app.state.audit.checkpoint()


async def hub_command(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> Result:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


def online(settings: Settings) -> dict[str, str]:
    return {"HUB_DATABASE_URL": settings.database_url, "HUB_VAR_DIR": str(settings.var_dir)}


def offline(tmp_path: Path) -> dict[str, str]:
    """No database to read (its folder does not exist) and no signing keys: only the files."""
    nowhere = tmp_path / "elsewhere"
    return {
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{nowhere / 'none.db'}",
        "HUB_VAR_DIR": str(nowhere),
    }


async def export_file(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, path: Path, *args: str
) -> Lines:
    result = await hub_command(
        monkeypatch, online(settings), "audit", "export", "--out", str(path), *args
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in path.read_text().splitlines()]


def write(path: Path, lines: Lines) -> None:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))


async def test_export_interleaves_signed_checkpoints_after_the_events_they_cover(
    gql: GraphQLClient,
    app: Starlette,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    await audited_requests(gql, app)

    lines = await export_file(settings, monkeypatch, tmp_path / "audit.jsonl")

    kinds = [line.get("type", "event") + str(line["seq"]) for line in lines]
    assert kinds == [
        "event1", "event2", "event3", "checkpoint3", "event4", "event5", "event6", "checkpoint6"
    ]  # fmt: skip
    checkpoint = lines[3]
    assert checkpoint["jws"].count(".") == 2
    assert checkpoint["jwk"]["kid"] == checkpoint["kid"]
    assert checkpoint["hash"] == lines[2]["hash"]


async def test_export_verifies_offline_against_the_checkpoint_file(
    gql: GraphQLClient,
    app: Starlette,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    await audited_requests(gql, app)
    export = tmp_path / "audit.jsonl"
    await export_file(settings, monkeypatch, export)
    checkpoints = tmp_path / "checkpoints.jsonl"
    saved = await hub_command(
        monkeypatch, online(settings), "audit", "checkpoints", "export", "--out", str(checkpoints)
    )
    assert saved.exit_code == 0, saved.output

    outside = await hub_command(
        monkeypatch,
        offline(tmp_path),
        *("audit", "verify", "--export", str(export)),
        *("--checkpoints", str(settings.audit_checkpoint_path)),
    )
    from_database = await hub_command(
        monkeypatch,
        offline(tmp_path),
        *("audit", "verify", "--export", str(export), "--checkpoints", str(checkpoints)),
    )

    assert outside.exit_code == 0, outside.output
    assert "1 chains, 6 events, 2 checkpoints: all verify" in outside.output
    assert from_database.exit_code == 0, from_database.output
    assert len(checkpoints.read_text().splitlines()) == 2


def modify(lines: Lines) -> Lines:
    lines[1]["purpose"] = "改过"
    return lines


def drop_event(lines: Lines) -> Lines:
    return [line for line in lines if line["seq"] != 2 or line.get("type")]


def cut_tail(lines: Lines) -> Lines:
    return [line for line in lines if line["seq"] < 5]


def rewrite(lines: Lines) -> Lines:
    """Edit event 2, recompute every later hash, drop the checkpoints the file carries."""
    events = [line for line in lines if not line.get("type")]
    events[1]["purpose"] = "例行检查"
    for previous, event in itertools.pairwise(events):
        event["prev_hash"] = previous["hash"]
        event["hash"] = event_hash({**event, "at": _datetime(event["at"])})
    return events


def _datetime(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("edit", "kind"),
    [
        pytest.param(modify, "modified", id="modified"),
        pytest.param(drop_event, "deleted", id="deleted"),
        pytest.param(cut_tail, "truncated", id="tail-cut"),
        pytest.param(rewrite, "rewritten", id="rewritten-with-recomputed-hashes"),
    ],
)
async def test_an_edited_export_fails_offline_verification_naming_the_edit(
    gql: GraphQLClient,
    app: Starlette,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    edit: Callable[[Lines], Lines],
    kind: str,
) -> None:
    await audited_requests(gql, app)
    export = tmp_path / "audit.jsonl"
    write(export, edit(await export_file(settings, monkeypatch, export)))

    result = await hub_command(
        monkeypatch,
        offline(tmp_path),
        *("audit", "verify", "--export", str(export)),
        *("--checkpoints", str(settings.audit_checkpoint_path)),
    )

    assert result.exit_code == 1, result.output
    assert f"{kind}:" in result.output


async def test_an_export_of_a_time_window_verifies_with_the_same_window(
    gql: GraphQLClient,
    app: Starlette,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    await audited_requests(gql, app, count=3)
    lines = await export_file(settings, monkeypatch, tmp_path / "first.jsonl")
    start = _datetime(lines[-1]["at"]) + timedelta(microseconds=1)
    await audited_requests(gql, app, count=3)
    window = ("--from", start.isoformat().replace("+00:00", ""))
    export = tmp_path / "window.jsonl"

    exported = await export_file(settings, monkeypatch, export, *window)
    result = await hub_command(
        monkeypatch,
        offline(tmp_path),
        *("audit", "verify", "--export", str(export), *window),
        *("--checkpoints", str(settings.audit_checkpoint_path)),
    )
    unwindowed = await hub_command(
        monkeypatch,
        offline(tmp_path),
        *("audit", "verify", "--export", str(export)),
        *("--checkpoints", str(settings.audit_checkpoint_path)),
    )

    assert [line["seq"] for line in exported if not line.get("type")] == [4, 5, 6]
    assert result.exit_code == 0, result.output
    assert unwindowed.exit_code == 1
    assert "deleted:" in unwindowed.output  # seq 3's checkpoint: events before 4 are missing
