"""The app's own endpoints: liveness, readiness, metrics."""

from __future__ import annotations

from pathlib import Path

import httpx

from hub.app import create_app
from hub.config import Settings
from tests.conftest import FAST_HASHER


async def test_healthz_and_readyz_answer_on_a_migrated_database(http: httpx.AsyncClient) -> None:
    health = await http.get("/healthz")
    ready = await http.get("/readyz")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_readyz_is_503_while_migrations_are_pending(
    scratch_database_url: str, tmp_path: Path
) -> None:
    app = create_app(
        Settings(database_url=scratch_database_url, var_dir=tmp_path), password_hasher=FAST_HASHER
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        ready = await http.get("/readyz")
    await app.state.limits.close()
    await app.state.engine.dispose()

    assert ready.status_code == 503
    assert ready.json()["status"] == "migrations pending"


async def test_metrics_count_requests_per_route(http: httpx.AsyncClient) -> None:
    await http.get("/healthz")

    metrics = await http.get("/metrics")

    assert metrics.status_code == 200
    assert 'gridhub_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics.text


async def test_graphiql_shows_a_chinese_purpose_and_encodes_what_is_typed(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    script = await http.get("/static/graphiql-hub.js")

    assert page.status_code == 200
    assert '<script src="/static/graphiql-hub.js"></script>' in page.text
    assert script.status_code == 200
    assert '"X-Request-Purpose": "入户走访"' in script.text  # the header template
    assert "encodeURIComponent(value)" in script.text  # non-ASCII values leave percent-encoded
