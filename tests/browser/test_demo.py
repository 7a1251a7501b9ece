"""`hub demo` twice at once on two ports: both work; and the admin console over a real demo."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import shoot
from tests.e2e.conftest import free_port

HUB_BIN = Path(sys.executable).parent / "hub"
DEMO_RESIDENTS = 150
START_TIMEOUT = 420.0


@dataclass(frozen=True)
class Demo:
    port: int
    url: str
    log: Path


def _start(directory: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "GRIDHUB_"))}
    command = [str(HUB_BIN), "demo", "--residents", str(DEMO_RESIDENTS), "--port", str(port)]
    with (directory / f"demo-{port}.log").open("wb") as log:  # the child keeps its own copy
        return subprocess.Popen(command, cwd=directory, env=env, stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL)  # fmt: skip


def _wait(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"hub demo exited {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"hub demo not ready after {START_TIMEOUT:.0f} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def two_demos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Demo, Demo, Path]]:
    """Two `hub demo` processes started at the same moment, on two ports, in one directory."""
    directory = tmp_path_factory.mktemp("demo")
    ports = (free_port(), free_port())
    processes = [_start(directory, port) for port in ports]
    demos = [Demo(p, f"http://127.0.0.1:{p}", directory / f"demo-{p}.log") for p in ports]
    try:
        for process, demo in zip(processes, demos, strict=True):
            _wait(process, demo.url, demo.log)
        yield demos[0], demos[1], directory
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _queries(readme: str) -> dict[str, str]:
    return dict(re.findall(r"### (\w+)[^\n]*\n.*?```sh\n(.*?)```", readme, re.S))


def _run_query(block: str) -> dict[str, Any]:
    output = subprocess.run(["bash", "-c", block], capture_output=True, text=True, timeout=60)
    result: dict[str, Any] = json.loads(output.stdout)
    return result


def test_two_demos_at_once_on_two_ports_both_answer_every_roles_query(
    two_demos: tuple[Demo, Demo, Path],
) -> None:
    first, second, directory = two_demos
    for demo in (first, second):
        metadata = httpx.get(demo.url + "/.well-known/oauth-authorization-server").json()
        assert metadata["issuer"] == demo.url  # the issuer follows the port
        readme = (directory / "var" / "demo" / str(demo.port) / "README.md").read_text()
        queries = _queries(readme)
        assert len(queries) == 9  # one per shipped role
        for role, block in queries.items():
            assert demo.url in block
            result = _run_query(block)
            assert "errors" not in result, (role, result)
            assert result["data"], role
    # the second demo revoked none of the first demo's clients: its queries still run
    first_readme = (directory / "var" / "demo" / str(first.port) / "README.md").read_text()
    assert "errors" not in _run_query(_queries(first_readme)["auditor"])
    env = (directory / "var" / "demo.env").read_text()
    assert "HUB_CONNECTORS=" in env
    assert "HUB_DATABASE_URL=" in env
    assert oct((directory / "var" / "demo.env").stat().st_mode & 0o777) == "0o600"


def test_a_third_demo_on_a_taken_port_stops_at_once_and_changes_nothing(
    two_demos: tuple[Demo, Demo, Path],
) -> None:
    first, _, directory = two_demos
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "GRIDHUB_"))}
    started = time.monotonic()
    result = subprocess.run(
        [str(HUB_BIN), "demo", "--port", str(first.port)],
        cwd=directory, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"port {first.port}" in result.stderr
    assert "--port" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 30
    readme = (directory / "var" / "demo" / str(first.port) / "README.md").read_text()
    assert "errors" not in _run_query(_queries(readme)["admin"])


def test_after_the_demo_hub_commands_work_with_its_env_file(
    two_demos: tuple[Demo, Demo, Path],
) -> None:
    _, _, directory = two_demos
    script = "set -a; . var/demo.env; set +a; hub connectors list --json && hub audit verify"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "GRIDHUB_"))}
    env["PATH"] = f"{HUB_BIN.parent}:{env.get('PATH', '')}"
    elsewhere = directory / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    script = script.replace("var/demo.env", str(directory / "var" / "demo.env"))
    result = subprocess.run(["bash", "-c", script], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "police_api" in result.stdout
    assert not (elsewhere / "var").exists()  # nothing created where the command ran


def test_admin_console_on_the_demo_shows_connectors_quarantine_and_retries(
    two_demos: tuple[Demo, Demo, Path], browser: Any, screenshots: Path
) -> None:
    first, _, directory = two_demos
    passwords = json.loads((directory / "var" / "demo" / "passwords.json").read_text())
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    for role, account, path in (
        ("admin", "demo.admin", "/console/admin"),
        ("grid_worker", "demo.worker", "/console/grid"),
    ):
        page.goto(first.url + path)
        page.wait_for_url("**/login?**")
        page.fill("input[name=username]", account)
        page.fill("input[name=password]", passwords[role])
        page.click("button[type=submit]")
        page.wait_for_url("**/console/**")
        if role == "admin":
            assert "police_api" in page.inner_text("[data-testid=connectors]")
            assert "INVALID_ID_NUMBER" in page.inner_text("[data-testid=quarantine]")
            page.click("[data-testid=retry]")
            page.wait_for_load_state()
            assert "已重试" in page.inner_text("[data-testid=retried]")
            shoot(page, screenshots, "admin")
        else:
            tags = page.locator("[data-testid=grid-residents] .tag.care")
            assert tags.count() >= 1
            shoot(page, screenshots, "grid")
        page.click("[data-testid=signout]")
        page.wait_for_load_state()
    context.close()
