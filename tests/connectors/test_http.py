"""`http` sources against a real local HTTP server: pagination, watermarks, auth, retries, faults."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.base import Batch, Cursor
from connectors.errors import FatalError, RetriableError
from connectors.http import HttpSource
from connectors.registry import build_source
from connectors.retry import backoff_delay, parse_retry_after
from hub.storage.models import RunStatus
from hub.sync import sync_source
from tests.conftest import World
from tests.connectors.department_api import FakeApi
from tests.connectors.support import (
    VACCINATION_FIELDS,
    connectors_config,
    police_record,
    police_source,
    vaccination_record,
)

PAGINATIONS: dict[str, dict[str, Any]] = {
    "page": {
        "path": "/page",
        "records_path": "data",
        "pagination": {"style": "page", "page_size": 10},
    },
    "offset": {
        "path": "/offset",
        "records_path": "result.items",
        "pagination": {"style": "offset", "limit": 10},
    },
    "cursor": {
        "path": "/cursor",
        "pagination": {"style": "cursor", "size_param": "limit", "page_size": 10},
    },
    "link": {
        "path": "/link",
        "records_path": "",
        "pagination": {"style": "link", "size_param": "per_page", "page_size": 10},
    },
}
FAST_RETRIES = {"backoff_seconds": 0.01, "backoff_max_seconds": 0.05, "max_attempts": 4}


def http_source(
    api: FakeApi, style: str = "page", *, env: dict[str, str] | None = None, **source: Any
) -> HttpSource:
    stream = PAGINATIONS[style] | {
        "target": "vaccination",
        "fields": VACCINATION_FIELDS,
        "updated_since_param": "updated_since",
    }
    settings = {
        "kind": "http",
        "base_url": api.base_url,
        "source": "health_api",
        **FAST_RETRIES,
        **source,
        "streams": {"vaccinations": stream},
    }
    built = build_source(connectors_config({"health": settings}), "health", env=env or {})
    assert isinstance(built, HttpSource)
    return built


async def read_all(source: HttpSource, cursor: Cursor | None = None) -> list[Batch]:
    async with source:
        return [batch async for batch in source.streams["vaccinations"].read(cursor)]


def ids(batches: list[Batch]) -> list[str]:
    return [record["id"] for batch in batches for record in batch.records]


def records(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [vaccination_record(n, person=n) for n in range(start, start + count)]


@pytest.mark.parametrize("style", list(PAGINATIONS))
async def test_every_pagination_style_reads_every_record_once(api: FakeApi, style: str) -> None:
    api.records = records(35)
    batches = await read_all(http_source(api, style))
    assert ids(batches) == [r["id"] for r in api.records]
    assert len(batches) == 4


@pytest.mark.parametrize("style", list(PAGINATIONS))
async def test_records_repeated_across_pages_are_read_again_but_nothing_is_lost(
    api: FakeApi, style: str
) -> None:
    api.records = records(25)
    api.faults.repeat_across_pages = True
    read = ids(await read_all(http_source(api, style)))
    assert set(read) == {r["id"] for r in api.records}


@pytest.mark.parametrize("style", list(PAGINATIONS))
async def test_the_next_sync_reads_only_records_at_or_after_the_watermark_it_has_not_seen(
    api: FakeApi, style: str
) -> None:
    api.records = records(30)  # seven records share each timestamp
    first = await read_all(http_source(api, style))
    cursor = first[-1].cursor
    assert cursor["watermark"] == datetime.fromisoformat(api.records[-1]["updated_at"]).isoformat()
    same_time = vaccination_record(1000, person=1, updated_at=api.records[-1]["updated_at"])
    later = vaccination_record(1001, person=2, updated_at="2030-01-01T00:00:00+00:00")
    api.records += [same_time, later]
    second = await read_all(http_source(api, style), cursor)
    assert ids(second) == ["V-01000", "V-01001"]
    assert await read_all(http_source(api, style), second[-1].cursor) == [
        Batch([], second[-1].cursor)
    ]


@pytest.mark.parametrize("style", list(PAGINATIONS))
async def test_a_run_resumed_from_a_mid_run_cursor_continues_at_the_next_page(
    api: FakeApi, style: str
) -> None:
    api.records = records(35)
    first_two = (await read_all(http_source(api, style)))[:2]
    rest = await read_all(http_source(api, style), first_two[-1].cursor)
    assert ids(first_two) + ids(rest) == [r["id"] for r in api.records]


async def test_server_errors_are_retried_with_backoff(api: FakeApi) -> None:
    api.records = records(15)
    api.faults.server_errors = 3
    assert len(ids(await read_all(http_source(api)))) == 15
    assert len(api.requests) == 2 + 3


async def test_429_waits_as_long_as_retry_after_says(api: FakeApi) -> None:
    api.records = records(5)
    api.faults.throttles, api.faults.retry_after = 1, "1"
    started = time.monotonic()
    assert len(ids(await read_all(http_source(api)))) == 5
    assert time.monotonic() - started >= 0.95


async def test_a_slow_server_times_out_and_is_retried(api: FakeApi) -> None:
    api.records = records(5)
    # The slow answer would take 3 s; the read gives up after 0.2 s and the retry is answered
    # at once. The bound leaves a loaded, shared machine 2 s of scheduling slack, and still
    # fails a client that waited for the slow answer.
    api.faults.slow, api.faults.slow_seconds = 1, 3.0
    started = time.monotonic()
    assert len(ids(await read_all(http_source(api, timeout_seconds=0.2)))) == 5
    assert time.monotonic() - started < 2.5


async def test_a_malformed_page_is_retried_like_a_server_error(api: FakeApi) -> None:
    api.records = records(5)
    api.faults.malformed = 2
    assert len(ids(await read_all(http_source(api)))) == 5


async def test_retries_give_up_after_max_attempts_with_the_reason(api: FakeApi) -> None:
    api.faults.server_errors = 10
    with pytest.raises(RetriableError, match=r"gave up after 4 attempts: HTTP 503"):
        await read_all(http_source(api))


async def test_a_persistently_malformed_page_fails_the_run_and_keeps_committed_batches(
    api: FakeApi, world: World, engine: AsyncEngine
) -> None:
    await world.tree()
    people = [police_record(n, grid="410105001001001") for n in range(25)]
    await sync_source(engine, police_source(people))
    api.records = records(25)
    source = http_source(api)
    api.faults.malformed_from_request = 3
    (summary,) = await sync_source(engine, source)
    assert summary.status is RunStatus.FAILED
    assert summary.error is not None
    assert "malformed JSON" in summary.error
    assert (summary.counts.read, summary.counts.inserted) == (20, 20)  # two pages committed


async def test_api_key_is_sent_from_the_environment_variable_named_in_the_file(
    api: FakeApi,
) -> None:
    api.records, api.api_key = records(3), "k-123"
    auth = {"type": "api_key", "header": "X-API-Key", "key_env": "POLICE_API_KEY"}
    assert (
        len(ids(await read_all(http_source(api, auth=auth, env={"POLICE_API_KEY": "k-123"})))) == 3
    )
    with pytest.raises(FatalError, match=r"HTTP 401 .* check its credentials"):
        await read_all(http_source(api, auth=auth, env={"POLICE_API_KEY": "wrong"}))
    with pytest.raises(FatalError, match="POLICE_API_KEY is not set"):
        http_source(api, auth=auth, env={})


async def test_oauth_client_credentials_tokens_are_fetched_and_renewed_when_they_expire(
    api: FakeApi,
) -> None:
    api.records = records(30)
    api.client_id, api.client_secret, api.token_ttl = "hub", "s3cret", 1
    auth = {
        "type": "oauth2",
        "token_url": f"{api.base_url}/token",
        "client_id": "hub",
        "client_secret_env": "HEALTH_SECRET",
        "leeway_seconds": 0,
    }
    source = http_source(api, auth=auth, env={"HEALTH_SECRET": "s3cret"}, requests_per_second=2.5)
    assert len(ids(await read_all(source))) == 30  # 4 requests over ~1.2 s outlive the first token
    assert api.tokens_issued >= 2


async def test_an_expired_token_is_rejected_by_the_server_and_renewed_by_the_client(
    api: FakeApi,
) -> None:
    api.records = records(30)
    api.client_id, api.client_secret, api.token_ttl = "hub", "s3cret", 1
    # A huge negative leeway makes authlib trust its token past expiry: the server must say so.
    auth = {
        "type": "oauth2",
        "token_url": f"{api.base_url}/token",
        "client_id": "hub",
        "client_secret_env": "S",
        "leeway_seconds": 0,
    }
    source = http_source(api, auth=auth, env={"S": "s3cret"}, requests_per_second=2.5)
    async with source:
        client: Any = source.client._client
        client.leeway = -3600
        read = [
            r async for batch in source.streams["vaccinations"].read(None) for r in batch.records
        ]
    assert len(read) == 30
    assert api.rejected_expired >= 1
    assert api.tokens_issued >= 2


async def test_a_rejected_client_fails_with_a_fatal_error(api: FakeApi) -> None:
    api.client_id, api.client_secret = "hub", "right"
    auth = {
        "type": "oauth2",
        "token_url": f"{api.base_url}/token",
        "client_id": "hub",
        "client_secret_env": "S",
    }
    with pytest.raises(FatalError, match="token request refused"):
        await read_all(http_source(api, auth=auth, env={"S": "wrong"}))


async def test_requests_are_spaced_to_the_configured_rate(api: FakeApi) -> None:
    api.records = records(40)
    started = time.monotonic()
    await read_all(http_source(api, requests_per_second=10))
    assert time.monotonic() - started >= 0.4 - 0.05  # 5 requests, 0.1 s apart


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
    ids=["seconds", "http-date", "date-in-the-past", "garbage", "absent"],
)
def test_retry_after_reads_seconds_or_an_http_date(
    header: str | None, expected: float | None
) -> None:
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected


def test_backoff_grows_exponentially_and_is_capped() -> None:
    ceilings = [
        max(backoff_delay(attempt, base=1, cap=8) for _ in range(200))
        for attempt in (1, 2, 3, 4, 5)
    ]
    assert ceilings[0] <= 1 < ceilings[1] <= 2 < ceilings[2] <= 4 < ceilings[3] <= 8
    assert ceilings[4] <= 8
