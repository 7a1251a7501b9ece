"""People at the screen: the consoles in a real browser (Playwright driving Debian's chromium)."""

from __future__ import annotations

import asyncio
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select, update

from hub.storage.base import utcnow
from hub.storage.models import StaffSession, StaffUser
from hub.storage.session import create_engine
from tests.browser.conftest import ConsoleHub, shoot, sign_in

PURPOSE = "办理社会救助"


def _look_up(page: Any, id_number: str, purpose: str | None = PURPOSE) -> None:
    page.fill("[data-testid=id-number-input]", id_number)
    if purpose is not None:
        page.select_option("[data-testid=purpose]", purpose)
    page.click("[data-testid=lookup]")
    page.wait_for_load_state()


def test_landing_page_links_the_consoles_graphiql_the_sdl_and_the_docs(
    context: Any, console_hub: ConsoleHub, screenshots: Path
) -> None:
    page = context.new_page()
    page.goto(console_hub.url + "/")
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href'))")
    for href in ("/console/counter", "/console/grid", "/console/audit", "/console/admin"):
        assert href in hrefs
    assert "/graphql" in hrefs
    assert "/docs" in hrefs
    assert "/sdl/unified.graphql" in hrefs
    sdl = page.request.get(console_hub.url + "/sdl/unified.graphql")
    assert sdl.ok
    assert "type Query" in sdl.text()
    shoot(page, screenshots, "landing")
    page.click("text=English")
    assert page.locator("h1").first.inner_text() == "GridHub data-sharing hub"
    assert context.outside_requests == []


def test_clerk_signs_in_looks_up_a_resident_and_prints_the_card(
    context: Any, console_hub: ConsoleHub, screenshots: Path
) -> None:
    page = context.new_page()
    page.goto(console_hub.url + "/console/counter")
    page.wait_for_url("**/login?**")
    shoot(page, screenshots, "login")
    sign_in(page, console_hub, "clerk", start="/console/counter")
    assert page.url.endswith("/console/counter")
    resident = console_hub.own_resident
    _look_up(page, resident["id_number"])
    card = page.locator("[data-testid=resident-card]")
    assert card.get_attribute("data-resident-id") == resident["id"]
    assert page.inner_text("[data-testid=resident-name]") == resident["name"]
    assert page.inner_text("[data-testid=id-number]") == resident["id_number"]
    # a clerk holds no health:sensitive or police:sensitive scope: shown as not permitted
    assert page.locator(".denied").count() >= 2
    assert page.locator("[data-testid=sources] tbody tr").count() >= 1
    shoot(page, screenshots, "counter")
    page.click("[data-testid=print-view]")
    page.wait_for_load_state()
    assert page.inner_text("[data-testid=print-purpose]") == PURPOSE
    assert (
        page.locator("[data-testid=resident-card]").get_attribute("data-resident-id")
        == resident["id"]
    )
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()  # print CSS hides the console chrome
    shoot(page, screenshots, "counter-print")
    assert context.outside_requests == []


def test_a_lookup_needs_a_purpose_from_the_list(context: Any, console_hub: ConsoleHub) -> None:
    page = context.new_page()
    sign_in(page, console_hub, "clerk", start="/console/counter")
    _look_up(page, console_hub.own_resident["id_number"], purpose=None)
    assert "查询事由" in page.inner_text("[data-testid=error]")
    assert page.locator("[data-testid=resident-card]").count() == 0


def test_a_clerk_cannot_reach_a_resident_of_another_street(
    context: Any, console_hub: ConsoleHub
) -> None:
    page = context.new_page()
    sign_in(page, console_hub, "clerk", start="/console/counter")
    _look_up(page, console_hub.other_resident["id_number"])
    assert "不在您的辖区" in page.inner_text("[data-testid=error]")
    assert page.locator("[data-testid=resident-card]").count() == 0
    assert console_hub.other_resident["name"] not in page.content()


def test_the_auditor_finds_the_access_the_clerk_just_made(
    browser: Any, context: Any, console_hub: ConsoleHub, screenshots: Path
) -> None:
    clerk = context.new_page()
    sign_in(clerk, console_hub, "clerk", start="/console/counter")
    resident = console_hub.own_resident
    _look_up(clerk, resident["id_number"], "户籍与居住证业务")
    assert clerk.locator("[data-testid=resident-card]").count() == 1

    auditor_context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    auditor = auditor_context.new_page()
    sign_in(auditor, console_hub, "auditor", start="/console/audit")
    clerk_name = console_hub.people["clerk"].name
    auditor.fill("[data-testid=filter-subject]", clerk_name)
    auditor.click("[data-testid=events-go]")
    auditor.wait_for_load_state()
    rows = auditor.locator("[data-testid=events] tbody tr")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any(resident["id"] in t and "户籍与居住证业务" in t for t in texts), texts
    auditor.fill("[data-testid=report-resident]", resident["id_number"])  # from an ID number
    auditor.click("[data-testid=report-go]")
    auditor.wait_for_load_state()
    report = auditor.inner_text("[data-testid=access-report]")
    assert clerk_name in report
    assert "户籍与居住证业务" in report
    assert "✔" in auditor.inner_text("[data-testid=chains]")
    checkpoints = auditor.locator("[data-testid=chains] [data-testid=checkpoint]").all_inner_texts()
    assert any("签名有效" in text for text in checkpoints), checkpoints
    shoot(auditor, screenshots, "audit")
    export = auditor.request.get(
        console_hub.url + f"/console/audit/export.csv?subject={clerk_name}"
    )
    assert export.ok
    assert export.headers["content-type"].startswith("text/csv")
    assert resident["id"] in export.text()
    assert "户籍与居住证业务" in export.text()
    auditor_context.close()


def test_grid_worker_sees_the_residents_of_the_grid_with_care_tags(
    context: Any, console_hub: ConsoleHub, screenshots: Path
) -> None:
    page = context.new_page()
    sign_in(page, console_hub, "worker", start="/console/grid")
    assert page.inner_text("[data-testid=my-grid]")
    rows = page.locator("[data-testid=grid-residents] tbody tr")
    assert rows.count() >= 1
    assert console_hub.other_resident["name"] not in page.inner_text("[data-testid=grid-residents]")
    shoot(page, screenshots, "grid-street")


def _report_case_as_a_worker(hub: ConsoleHub, description: str) -> str:
    """A fresh (not overdue) case in a building grid of the worker's street, through the API."""
    client = hub.hub.register_client("grid_worker", grid=hub.street)
    headers = {
        "Authorization": f"Bearer {hub.hub.token(client)}",
        "X-Request-Purpose": quote("网格日常管理", safe=""),
    }
    grids = hub.hub.graphql(
        f'{{ gridsWithoutPatrol(grid: "{hub.street}") {{ code }} }}', headers=headers
    )
    building = grids["data"]["gridsWithoutPatrol"][0]["code"]
    reported = hub.hub.graphql(
        "mutation($key: String!, $grid: ID!, $text: String!) { reportCase(idempotencyKey: $key,"
        " grid: $grid, case: {category: LIVELIHOOD, subtype: ELEVATOR, description: $text})"
        " { id state overdue } }",
        {"key": secrets.token_hex(8), "grid": building, "text": description},
        headers=headers,
    )
    case = reported["data"]["reportCase"]
    assert case["state"] == "REPORTED"
    assert case["overdue"] is False
    return str(case["id"])


def test_grid_worker_sees_due_households_open_cases_overdue_first_and_unpatrolled_grids(
    context: Any, console_hub: ConsoleHub, screenshots: Path
) -> None:
    description = f"3号楼电梯停运 {secrets.token_hex(2)}"
    case_id = _report_case_as_a_worker(console_hub, description)
    page = context.new_page()
    sign_in(page, console_hub, "worker", start="/console/grid")
    due = page.locator("[data-testid=grid-due-visits] tbody tr")
    assert due.count() >= 1
    assert "2026" in due.first.inner_text() or "未走访" in due.first.inner_text()
    cases = page.locator("[data-testid=grid-cases] tbody tr")
    flags = [cases.nth(i).get_attribute("data-overdue") == "true" for i in range(cases.count())]
    assert flags == sorted(flags, reverse=True), flags  # every overdue case before the others
    fresh = page.locator(f"[data-testid=grid-cases] tr[data-case='{case_id}']")
    assert description in fresh.inner_text()
    assert "已上报" in fresh.inner_text()
    if any(flags):
        assert "已超期" in cases.first.inner_text()
    unpatrolled = page.locator("[data-testid=grid-unpatrolled] .tag")
    assert unpatrolled.count() >= 1
    assert page.locator("[data-testid=grid-kpis] [data-kpi=visitCoverage]").count() == 1
    shoot(page, screenshots, "grid-street")
    page.click("a.lang")
    page.wait_for_load_state()
    assert "My cases" in page.inner_text("body")
    assert "Grids not patrolled today" in page.inner_text("body")
    page.click("a.lang")  # back to Chinese for the tests after this one
    page.wait_for_load_state()


def test_admin_sees_connectors_quarantine_clients_and_users(
    context: Any, console_hub: ConsoleHub, screenshots: Path
) -> None:
    page = context.new_page()
    sign_in(page, console_hub, "admin", start="/console/admin")
    users = page.inner_text("[data-testid=users]")
    for person in console_hub.people.values():
        assert person.name in users


def test_sign_out_ends_the_session_and_revokes_its_token(
    context: Any, console_hub: ConsoleHub
) -> None:
    page = context.new_page()
    sign_in(page, console_hub, "clerk", start="/console/counter")
    token = page.request.get(console_hub.url + "/console/token").json()["access_token"]
    me = httpx.post(
        console_hub.url + "/graphql",
        json={"query": "{ me { subject } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert me.json()["data"]["me"]["subject"] == console_hub.people["clerk"].name
    page.click("[data-testid=signout]")
    page.wait_for_load_state()
    assert "已安全退出" in page.inner_text("[data-testid=message]")
    refused = httpx.post(
        console_hub.url + "/graphql",
        json={"query": "{ me { subject } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 401
    page.goto(console_hub.url + "/console/counter")
    page.wait_for_url("**/login?**")  # both sessions ended: the password is asked again


def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    context: Any, console_hub: ConsoleHub
) -> None:
    page = context.new_page()
    sign_in(page, console_hub, "clerk", start="/console/counter")
    form = {"id_number": console_hub.own_resident["id_number"], "purpose": PURPOSE}
    forged = page.request.post(
        console_hub.url + "/console/counter", form={**form, "csrf_token": "x"}
    )
    assert forged.status == 403
    missing = page.request.post(console_hub.url + "/console/counter", form=form)
    assert missing.status == 403
    token = page.get_attribute("input[name=csrf_token]", "value")
    cross_site = page.request.post(
        console_hub.url + "/console/counter",
        form={**form, "csrf_token": token},
        headers={"Origin": "http://evil.example"},
    )
    assert cross_site.status == 403
    allowed = page.request.post(
        console_hub.url + "/console/counter", form={**form, "csrf_token": token}
    )
    assert allowed.status == 200
    assert "resident-card" in allowed.text()
    login = page.request.post(
        console_hub.url + "/login", form={"username": "x", "password": "y", "csrf_token": "z"}
    )
    assert login.status == 403


def test_session_cookies_are_http_only_and_same_site_strict(
    context: Any, console_hub: ConsoleHub
) -> None:
    page = context.new_page()
    sign_in(page, console_hub, "clerk", start="/console/counter")
    cookies = {c["name"]: c for c in context.cookies()}
    for name in ("hub_login", "hub_console"):
        assert cookies[name]["httpOnly"]
        assert cookies[name]["sameSite"] == "Strict"


def test_an_idle_session_expires_and_asks_for_the_password_again(
    context: Any, console_hub: ConsoleHub
) -> None:
    page = context.new_page()
    sign_in(page, console_hub, "clerk", start="/console/counter")
    clerk = console_hub.people["clerk"].name
    idle = timedelta(days=1, seconds=1)  # longer than any idle limit the settings allow
    # the clerk's sessions last used longer ago than that (Playwright's loop holds this
    # thread: the database work goes to another)
    with ThreadPoolExecutor(1) as worker:
        ended = worker.submit(asyncio.run, _age_sessions(console_hub, clerk, idle)).result()
    assert ended >= 2  # the login session and the console session

    page.goto(console_hub.url + "/console/counter")

    page.wait_for_url(re.compile(r".*/login\?.*"))


async def _age_sessions(hub: ConsoleHub, name: str, by: timedelta) -> int:
    engine = create_engine(hub.hub.database_url)
    try:
        async with engine.begin() as connection:
            user_id = select(StaffUser.id).where(StaffUser.name == name).scalar_subquery()
            result = await connection.execute(
                update(StaffSession)
                .where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
                .values(last_seen_at=utcnow() - by)
            )
            return int(result.rowcount)
    finally:
        await engine.dispose()


def test_graphiql_loads_with_no_network_and_runs_a_query_with_a_chinese_purpose(
    context: Any, console_hub: ConsoleHub, screenshots: Path
) -> None:
    client = console_hub.hub.register_client("service_center_clerk", grid=console_hub.street)
    page = context.new_page()
    page.goto(console_hub.url + "/graphql")
    page.wait_for_selector(".graphiql-container", timeout=20_000)
    page.fill("#client-id", client.client_id)
    page.fill("#client-secret", client.client_secret)
    page.click("#use-client-token")
    page.wait_for_function("document.getElementById('token-status').textContent.includes('ready')")
    resident = console_hub.own_resident
    query = f'{{ resident(idNumber: "{resident["id_number"]}") {{ name }} }}'
    page.evaluate(
        "q => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q)",
        query,
    )
    page.click(".graphiql-execute-button")
    page.wait_for_function(
        "n => document.querySelector('.result-window').innerText.includes(n)", arg=resident["name"]
    )
    shoot(page, screenshots, "graphiql")
    assert context.outside_requests == []
    events = console_hub.hub.graphql(
        f'{{ auditEvents(filter: {{clientId: "{client.client_id}"}}, first: 1) {{ edges {{ node {{ purpose }} }} }} }}',
        headers=console_hub.hub.caller_headers("auditor"),
    )
    assert events["data"]["auditEvents"]["edges"][0]["node"]["purpose"] == "入户走访"


@pytest.mark.parametrize("path", ["/console/counter", "/console/audit", "/console/admin"])
def test_consoles_need_a_signed_in_person(context: Any, console_hub: ConsoleHub, path: str) -> None:
    page = context.new_page()
    page.goto(console_hub.url + path)
    page.wait_for_url("**/login?**")
