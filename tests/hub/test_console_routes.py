"""The consoles' HTTP surface in process: the landing page, GraphiQL from the hub's own files,
pages that need a sign-in, and `/graphql` untouched by the consoles' session middleware."""

from __future__ import annotations

import re

import httpx
import pytest

CONSOLES = ("/console/counter", "/console/grid", "/console/audit", "/console/admin")


async def test_the_landing_page_links_consoles_graphiql_sdl_and_docs(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/")

    assert response.status_code == 200
    hrefs = set(re.findall(r'href="([^"]+)"', response.text))
    assert set(CONSOLES) <= hrefs
    assert {"/graphql", "/docs", "/sdl/unified.graphql"} <= hrefs
    sdl = await http.get("/sdl/unified.graphql")
    assert sdl.status_code == 200
    assert "type Query" in sdl.text
    assert (await http.get("/sdl/../../etc/passwd")).status_code == 404


async def test_graphiql_loads_only_the_hubs_own_files(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})

    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(source.startswith("/") and not source.startswith("//") for source in sources)
    for source in sources:
        asset = await http.get(source)
        assert asset.status_code == 200, source
    assert "unpkg" not in page.text
    assert "jsdelivr" not in page.text


@pytest.mark.parametrize("path", CONSOLES)
async def test_a_console_page_without_a_session_starts_the_sign_in(
    http: httpx.AsyncClient, path: str
) -> None:
    response = await http.get(path)

    assert response.status_code in (302, 303, 307)
    assert response.headers["location"].startswith("/console/signin")


async def test_a_console_form_without_a_session_changes_nothing(http: httpx.AsyncClient) -> None:
    response = await http.post("/console/admin/retry", data={"csrf_token": "x"})

    assert response.status_code in (302, 303, 403)
    assert response.status_code != 500


async def test_graphql_is_not_behind_the_console_middleware(http: httpx.AsyncClient) -> None:
    http.cookies.set("hub_console", "not-a-session")

    response = await http.post("/graphql", json={"query": "{ __typename }"})

    assert response.status_code == 401  # the bearer check answers, not a console redirect
    assert "set-cookie" not in response.headers
    assert "www-authenticate" in response.headers


async def test_the_sign_in_start_asks_for_s256_pkce_for_the_console_client(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/console/signin", params={"next": "https://evil.example/"})

    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/oauth/authorize?")
    assert "code_challenge_method=S256" in location
    assert "client_id=gridhub-console" in location
    pkce = response.headers["set-cookie"]
    assert "HttpOnly" in pkce
    assert "evil.example" not in pkce  # an outside `next` falls back to the console
