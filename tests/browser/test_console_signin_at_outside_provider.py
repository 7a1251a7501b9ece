"""Sign-in to the consoles at a trusted outside OpenID Connect provider, in a real browser.

A clerk of the city's identity provider (node oidc-provider: its own login and consent pages)
clicks the provider's button on the hub's sign-in page, signs in there, lands in the counter
console, looks up a resident of her street and signs out; the auditor (a local account) finds
that access under `citysso:<sub>`. A grid worker of the provider sees their grid's residents.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import PASSWORD, seeded_district, shoot
from tests.e2e.conftest import LiveHub, run_hub
from tests.e2e.outside_provider import (
    CONSOLE_CLIENT,
    LABEL,
    NAME,
    add_clients,
    city_issuer_toml,
    new_key,
    provider_process,
)

PURPOSE = "办理社会救助"


@dataclass(frozen=True)
class OutsideHub:
    hub: LiveHub
    provider: str
    street: str
    own_resident: dict[str, Any]
    other_resident: dict[str, Any]
    auditor: str

    @property
    def url(self) -> str:
        return self.hub.url


@pytest.fixture(scope="module")
def outside_hub(
    tmp_path_factory: pytest.TempPathFactory, playwright_api: Any
) -> Iterator[OutsideHub]:
    directory = tmp_path_factory.mktemp("outside_console")
    with contextlib.ExitStack() as held:
        database_url, district, street, own, other = seeded_district(held, directory)
        secret = f"console-secret-{time.time_ns()}"
        config = {
            "clients": [],
            "keys": [new_key()],
            "accounts": {
                "alice": {"roles": ["窗口人员"], "grid": street},
                "bob": {"roles": ["网格员"], "grid": street},
            },
        }
        provider, _ = held.enter_context(provider_process(directory / "provider", config))
        secret_file = directory / "console-secret"
        secret_file.write_text(secret + "\n", encoding="utf-8")
        issuers = directory / "issuers.toml"
        issuers.write_text(city_issuer_toml(provider, secret_file), encoding="utf-8")
        hub = held.enter_context(
            run_hub(
                database_url,
                directory,
                district=district,
                HUB_TRUSTED_ISSUERS_FILE=str(issuers),
                HUB_AUDIT_CHECKPOINT_EVENTS="5",
            )
        )
        add_clients(
            provider,
            {
                "client_id": CONSOLE_CLIENT,
                "client_secret": secret,
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "redirect_uris": [f"{hub.url}/login/outside/{NAME}/callback"],
            },
        )
        password_file = directory / "password"
        password_file.write_text(PASSWORD + "\n", encoding="utf-8")
        auditor = f"auditor.{time.time_ns() % 10_000}"
        hub.hub("users", "add", auditor, "--role", "auditor", "--password-file", str(password_file))
        yield OutsideHub(hub, provider, street, own, other, auditor)


@pytest.fixture
def outside_context(browser: Any, outside_hub: OutsideHub) -> Iterator[Any]:
    """A fresh profile reaching the hub and the provider only (the provider's page asks for
    a web font: refused like every other outside request)."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    allowed = (outside_hub.url, outside_hub.provider)

    def route(route: Any) -> None:
        if route.request.url.startswith(allowed):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    context.route("**/*", route)
    yield context
    context.close()


def sign_in_at_provider(page: Any, hub: OutsideHub, login: str) -> None:
    """From the hub's sign-in page, through the provider's login and consent pages."""
    page.click(f"text={LABEL}")
    page.wait_for_url(f"{hub.provider}/interaction/**")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "the provider checks this, not the hub")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if page.url.startswith(hub.provider):  # the consent page
        page.click("button[type=submit]")
    page.wait_for_url(f"{hub.url}/console/**")


def test_a_clerk_signs_in_at_the_outside_provider_and_the_auditor_sees_her_access(
    browser: Any, outside_context: Any, outside_hub: OutsideHub, screenshots: Path
) -> None:
    page = outside_context.new_page()
    page.goto(outside_hub.url + "/console/counter")
    page.wait_for_url("**/login?**")
    button = page.locator("[data-testid=outside-signin] a")
    assert button.count() == 1
    assert button.inner_text() == LABEL
    shoot(page, screenshots, "login-outside")

    sign_in_at_provider(page, outside_hub, "alice")
    assert urlsplit(page.url).path == "/console/counter"
    resident = outside_hub.own_resident
    page.fill("[data-testid=id-number-input]", resident["id_number"])
    page.select_option("[data-testid=purpose]", PURPOSE)
    page.click("[data-testid=lookup]")
    page.wait_for_load_state()
    card = page.locator("[data-testid=resident-card]")
    assert card.get_attribute("data-resident-id") == resident["id"]
    assert page.inner_text("[data-testid=resident-name]") == resident["name"]

    page.goto(outside_hub.url + "/logout")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("[data-testid=message]").count() == 1
    page.goto(outside_hub.url + "/console/counter")
    page.wait_for_url("**/login?**")  # signed out: the console asks again

    auditor_context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    try:
        auditor = auditor_context.new_page()
        auditor.goto(outside_hub.url + "/console/audit")
        auditor.wait_for_url("**/login?**")
        auditor.fill("input[name=username]", outside_hub.auditor)
        auditor.fill("input[name=password]", PASSWORD)
        auditor.click("form[action='/login'] button[type=submit]")
        auditor.wait_for_url("**/console/audit**")
        auditor.fill("[data-testid=filter-subject]", f"{NAME}:alice")
        auditor.click("[data-testid=events-go]")
        auditor.wait_for_load_state()
        rows = auditor.locator("[data-testid=events] tbody tr")
        texts = [rows.nth(i).inner_text() for i in range(rows.count())]
        assert any(resident["id"] in text and PURPOSE in text for text in texts), texts
        assert all(f"{NAME}:alice" in text for text in texts), texts
    finally:
        auditor_context.close()


def test_a_grid_worker_of_the_provider_sees_the_residents_of_their_grid(
    outside_context: Any, outside_hub: OutsideHub
) -> None:
    page = outside_context.new_page()
    page.goto(outside_hub.url + "/login")
    sign_in_at_provider(page, outside_hub, "bob")

    assert urlsplit(page.url).path == "/console/grid"
    assert outside_hub.street in page.inner_text("h1")
    assert page.locator("[data-testid=grid-residents] tbody tr").count() >= 1
    shown = page.inner_text("[data-testid=grid-residents]")
    assert outside_hub.other_resident["name"] not in shown  # another street's resident
    assert f"{NAME}:bob" in page.inner_text("header")
