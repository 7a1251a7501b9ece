"""Browser fixtures: the hub over HTTP with staff accounts, and Debian's chromium under Playwright.

`console_hub` (session): a seeded district (`hub seed`, 60 residents) served by `hub serve`
(tests/e2e's `run_hub`), with one staff account per console role made by `hub users add`.
`browser` (session): Playwright for Python driving /usr/bin/chromium (`apt-get install
chromium`; Playwright's own browser download is not used), with the flags that keep Chromium
from calling home. Without Playwright or chromium the tests are skipped, loudly;
`HUB_REQUIRE_BROWSER=1` (CI) turns that skip into a failure.

The browser tests run on the suite's SQLite half only: the pages are clients of the hub's
GraphQL API and sign-in endpoints, whose behaviour on each database both halves test
without a browser, and `hub demo` always builds its own SQLite world. (Chromium on both
halves cost the PostgreSQL half, the longer one, a minute.)

Screenshots go to `HUB_SCREENSHOTS_DIR` when it is set (`make screenshots` writes
docs/screenshots/), else to the session's temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import insert, select

from hub.config import Settings
from hub.crypto.columns import ID_NUMBER, resident_values
from hub.crypto.ring import KeyRing
from hub.crypto.store import attach_field_keys, field_keys
from hub.identity import make_id_number
from hub.storage.models import Grid, Resident
from hub.storage.session import create_engine
from hub.vocabulary import Gender, GridLevel
from tests.e2e.conftest import LiveHub, district_code, e2e_database, run_hub, seed_database

T = TypeVar("T")
CHROMIUM = Path(os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("HUB_REQUIRE_BROWSER") == "1"
# Chromium's own traffic (updates, safe browsing, metrics, sync) stays off the closed network.
QUIET_FLAGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--metrics-recording-only",
    "--no-first-run",
    "--no-pings",
    "--no-default-browser-check",
]
PASSWORD = "correct-horse-battery"


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    grid: str | None
    password: str = PASSWORD


@dataclass(frozen=True)
class ConsoleHub:
    """The served hub, its staff accounts, and residents inside and outside the clerk's street."""

    hub: LiveHub
    people: dict[str, Person]
    street: str
    own_resident: dict[str, Any]
    other_resident: dict[str, Any]

    @property
    def url(self) -> str:
        return self.hub.url


def _skip_or_fail(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"browser tests required (HUB_REQUIRE_BROWSER=1) but {reason}", pytrace=False)
    pytest.skip(f"BROWSER TESTS SKIPPED: {reason}")


# Everything the browser tests hold for the session (Playwright, chromium, the served hub),
# closed after the last test of this directory: Playwright's sync API keeps an event loop
# running on the main thread, which would break every later test that calls asyncio.run.
_HELD = contextlib.ExitStack()
BROWSER_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not os.environ.get("HUB_TEST_DATABASE_URL"):
        return
    skip = pytest.mark.skip(reason="browser tests run on the suite's SQLite half only")
    for item in items:
        if BROWSER_TESTS in Path(item.path).resolve().parents:
            item.add_marker(skip)


@pytest.hookimpl(trylast=True)  # after the item's own fixtures are torn down
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if nextitem is None or BROWSER_TESTS not in Path(nextitem.path).resolve().parents:
        _HELD.close()


@pytest.fixture(scope="session")
def playwright_api() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("Playwright is not installed (pip install -e '.[browser]')")
    if not CHROMIUM.exists():
        _skip_or_fail(f"{CHROMIUM} not found (apt-get install -y chromium)")
    yield _HELD.enter_context(sync_playwright())
    _HELD.close()


@pytest.fixture(scope="session")
def browser(playwright_api: Any) -> Iterator[Any]:
    flags = [*QUIET_FLAGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    browser = playwright_api.chromium.launch(executable_path=str(CHROMIUM), args=flags)
    _HELD.callback(browser.close)
    yield browser
    _HELD.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("HUB_SCREENSHOTS_DIR")
    directory = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def context(browser: Any, console_hub: ConsoleHub) -> Iterator[Any]:
    """A fresh browser profile (no cookies) whose requests outside the hub are refused."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.outside_requests = []

    def route(route: Any) -> None:
        if route.request.url.startswith(console_hub.url):
            route.continue_()
        else:
            context.outside_requests.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", route)
    yield context
    context.close()


async def _residents(
    database_url: str, var_dir: Path
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The seeded street, one resident in it, and one resident of a second street added here
    (the small seed has one street); ID and phone numbers sealed under the hub's field keys."""
    engine = create_engine(database_url)
    attach_field_keys(engine, Settings(database_url=database_url, var_dir=var_dir))
    ring = await field_keys(engine).ring()
    try:
        async with engine.begin() as connection:
            street = (
                await connection.execute(select(Grid).where(Grid.level == GridLevel.STREET))
            ).first()
            assert street is not None
            own = (
                await connection.execute(
                    select(Resident.id, Resident.name, Resident.id_number_encrypted)
                    .where(Resident.grid_path.startswith(street.path))
                    .order_by(Resident.id)
                    .limit(1)
                )
            ).one()
            other = await _second_street(connection, street, ring)
    finally:
        await engine.dispose()
    own_number = ring.open(ID_NUMBER, own.id_number_encrypted)
    own_row = {"id": own.id, "name": own.name, "id_number": own_number}
    return street.code, own_row, other


async def _second_street(connection: Any, street: Any, ring: KeyRing) -> dict[str, Any]:
    district = street.parent_code
    codes = [district + "900", district + "900001", district + "900001001"]
    levels = [GridLevel.STREET, GridLevel.COMMUNITY, GridLevel.BUILDING]
    parent, path = district, f"{district}/"
    for code, level in zip(codes, levels, strict=True):
        path += f"{code}/"
        values = {"code": code, "name": f"第二街道{level.value}", "level": level,
                  "parent_code": parent, "path": path}  # fmt: skip
        await connection.execute(insert(Grid).values(**values))
        parent = code
    birth = date(1975, 5, 17)
    number = make_id_number(region=district, birth_date=birth, sequence=321)
    resident = {
        "id": "r-other-street", "name": "外街居民", "gender": Gender.MALE, "birth_date": birth,
        "address": "第二街道1号", "grid_code": codes[-1], "grid_path": path,
        **resident_values(ring, id_number=number, phone="13900009999"),
    }  # fmt: skip
    await connection.execute(insert(Resident).values(**resident))
    return {"id": resident["id"], "name": resident["name"], "id_number": number}


def _add_people(hub: LiveHub, street: str, directory: Path) -> dict[str, Person]:
    password_file = directory / "password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    people = {
        "clerk": Person(f"clerk.{secrets.token_hex(2)}", "service_center_clerk", street),
        "worker": Person(f"worker.{secrets.token_hex(2)}", "grid_worker", street),
        "auditor": Person(f"auditor.{secrets.token_hex(2)}", "auditor", None),
        "admin": Person(f"admin.{secrets.token_hex(2)}", "admin", None),
    }
    for person in people.values():
        args = ["users", "add", person.name, "--role", person.role]
        args += ["--password-file", str(password_file)]
        if person.grid:
            args += ["--grid", person.grid]
        hub.hub(*args)
    return people


@contextlib.contextmanager
def _off_this_thread(manager: AbstractContextManager[T]) -> Iterator[T]:
    """Enter and leave `manager` on a worker thread (its asyncio.run must not meet
    Playwright's loop on this one)."""
    with ThreadPoolExecutor(1) as worker:
        value = worker.submit(manager.__enter__).result()
        try:
            yield value
        finally:
            worker.submit(manager.__exit__, None, None, None).result()


def seeded_district(
    held: contextlib.ExitStack, directory: Path
) -> tuple[str, str, str, dict[str, Any], dict[str, Any]]:
    """A seeded e2e database (dropped when `held` closes): its URL, the district's code, one
    street's code, a resident of that street and one of another street."""
    database_url = held.enter_context(_off_this_thread(e2e_database(directory)))
    seed_database(database_url, directory / "var")
    with ThreadPoolExecutor(1) as worker:
        district = worker.submit(district_code, database_url).result()
        street, own, other = worker.submit(
            asyncio.run, _residents(database_url, directory / "var")
        ).result()
    return database_url, district, street, own, other


@pytest.fixture(scope="session")
def console_hub(
    tmp_path_factory: pytest.TempPathFactory, playwright_api: Any
) -> Iterator[ConsoleHub]:
    directory = tmp_path_factory.mktemp("console_hub")
    with contextlib.ExitStack() as held:
        database_url, district, street, own, other = seeded_district(held, directory)
        # a checkpoint every few events, so the auditor's page has signed ones to show
        hub = held.enter_context(
            run_hub(database_url, directory, district=district, HUB_AUDIT_CHECKPOINT_EVENTS="5")
        )
        people = _add_people(hub, street, directory)
        _HELD.push(held.pop_all())  # the hub stops with the browser, after the last browser test
    yield ConsoleHub(hub, people, street, own, other)
    _HELD.close()


def sign_in(page: Any, hub: ConsoleHub, who: str, *, start: str = "/console") -> None:
    """Through the real flow: console → /oauth/authorize → /login → back with a code."""
    person = hub.people[who]
    page.goto(hub.url + start)
    page.wait_for_url("**/login?**")
    page.fill("input[name=username]", person.name)
    page.fill("input[name=password]", person.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/**")


def shoot(page: Any, directory: Path, name: str) -> Path:
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
