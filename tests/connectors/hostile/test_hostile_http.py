"""Hostile and broken JSON APIs, on a real loopback server: each case ends in a state one can trust.

Every test asserts what was written, what was quarantined and why, the stream's cursor, the
run's status, and bounds on its time and traced memory.
"""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.storage.models import RunStatus
from tests.conftest import World
from tests.connectors.hostile.server import (
    HostileApi,
    gzip_bomb,
    gzipped,
    listing,
    pages,
    trickle,
)
from tests.connectors.hostile.support import (
    bounded,
    http_source,
    residents,
    run,
    vaccinations,
)
from tests.connectors.support import BASE_TIME

SUCCEEDED, FAILED = RunStatus.SUCCEEDED, RunStatus.FAILED


def ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(r["id"] for r in records)


# --- watermarks that cannot run away -------------------------------------------------------------


async def test_a_record_dated_in_the_far_future_is_quarantined_and_never_becomes_the_watermark(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    records = vaccinations(5)
    bogus = vaccinations(1, start=30, updated_at="2999-01-01T00:00:00+00:00")
    hostile.answer = listing(records + bogus)
    with bounded(seconds=10, megabytes=20):
        first = await run(engine, http_source(hostile.base_url))
    assert first.summary.status is SUCCEEDED
    assert (first.written, first.quarantined) == (ids(records), {"V-00030": "FUTURE_TIMESTAMP"})
    assert first.cursor["watermark"] == records[-1]["updated_at"]

    later = vaccinations(1, start=6, updated_at=(BASE_TIME + timedelta(days=1)).isoformat())
    hostile.answer = listing(records + bogus + later)
    second = await run(engine, http_source(hostile.base_url))
    assert second.summary.status is SUCCEEDED
    assert second.written == ids(records + later)  # a later record still arrives
    assert second.cursor["watermark"] == later[0]["updated_at"]
    assert second.quarantined == {"V-00030": "FUTURE_TIMESTAMP"}  # read again, still refused


async def test_a_late_record_behind_the_watermark_arrives_through_the_lookback_window(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    records = [
        *vaccinations(3, updated_at=(BASE_TIME + timedelta(hours=1)).isoformat()),
        *vaccinations(1, start=3, updated_at=(BASE_TIME + timedelta(hours=3)).isoformat()),
    ]
    hostile.answer = listing(records)
    stream = {"lookback": "6h"}
    await run(engine, http_source(hostile.base_url, stream=stream))
    late = vaccinations(1, start=9, updated_at=(BASE_TIME + timedelta(hours=2)).isoformat())
    hostile.answer = listing(records + late)  # committed late, with an older time
    with bounded(seconds=10, megabytes=20):
        second = await run(engine, http_source(hostile.base_url, stream=stream))
    assert second.summary.status is SUCCEEDED
    assert second.written == ids(records + late)
    assert (second.summary.counts.inserted, second.summary.counts.unchanged) == (1, 3)
    assert second.cursor["watermark"] == records[-1]["updated_at"]  # never moved back
    assert second.quarantined == {}


async def test_an_api_comparing_with_greater_than_still_gives_records_sharing_the_watermark(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    stamp = (BASE_TIME + timedelta(hours=1)).isoformat()
    records = vaccinations(3, updated_at=stamp)
    hostile.answer = listing(records, inclusive=False)
    stream = {"updated_since_inclusive": False}
    first = await run(engine, http_source(hostile.base_url, stream=stream))
    assert first.cursor["watermark"] == stamp
    same_instant = vaccinations(1, start=5, updated_at=stamp)  # written later, same timestamp
    hostile.answer = listing(records + same_instant, inclusive=False)
    with bounded(seconds=10, megabytes=20):
        second = await run(engine, http_source(hostile.base_url, stream=stream))
    assert second.summary.status is SUCCEEDED
    assert second.written == ids(records + same_instant)
    assert (second.summary.counts.read, second.summary.counts.inserted) == (1, 1)
    assert second.quarantined == {}
    assert second.cursor == {
        "watermark": stamp,
        "seen": ids(records + same_instant),
        "pending": None,
    }
    asked = [seen.query["updated_since"] for seen in hostile.seen if "updated_since" in seen.query]
    assert asked == [(BASE_TIME + timedelta(hours=1, seconds=-1)).isoformat()]


# --- no credentials to other hosts; redirects are errors ---------------------------------------


async def test_a_next_link_to_another_host_is_refused_and_the_api_key_never_leaves(
    hostile: HostileApi, elsewhere: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    first_page = vaccinations(10)
    next_link = f'<{elsewhere.base_url}/steal?page=2>; rel="next"'
    hostile.answer = pages(first_page, headers=[{"Link": next_link}])
    elsewhere.answer = pages(vaccinations(10, start=10))
    auth = {"type": "api_key", "header": "X-API-Key", "key_env": "HEALTH_KEY"}
    stream = {"records_path": "", "pagination": {"style": "link", "page_size": 10}}
    with bounded(seconds=10, megabytes=20):
        done = await run(
            engine,
            http_source(hostile.base_url, auth=auth, env={"HEALTH_KEY": "k-secret"}, stream=stream),
        )
    assert done.summary.status is FAILED
    assert f"refused {elsewhere.base_url}/steal?page=2" in str(done.summary.error)
    assert "To recover" in str(done.summary.error)
    assert elsewhere.seen == []  # not one request, so not one credential
    assert [seen.headers["x-api-key"] for seen in hostile.seen] == ["k-secret"]
    assert done.written == ids(first_page)  # the page before the bad link is kept
    assert done.cursor["pending"]["token"].startswith(elsewhere.base_url)
    assert done.quarantined == {}


async def test_a_redirect_is_an_error_and_its_body_is_never_taken_for_data(
    hostile: HostileApi, elsewhere: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)

    async def moved(request: Request) -> Response:
        body = {"data": vaccinations(3), "next_cursor": None}
        return JSONResponse(body, 302, headers={"Location": f"{elsewhere.base_url}/records"})

    hostile.answer = moved
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, http_source(hostile.base_url))
    assert done.summary.status is FAILED
    assert f"HTTP 302 from {hostile.base_url}/records" in str(done.summary.error)
    assert "follows no redirects" in str(done.summary.error)
    assert (done.written, done.quarantined, done.cursor) == ([], {}, None)
    assert elsewhere.seen == []
    assert len(hostile.seen) == 1  # fatal: not retried


# --- poison records, not poison batches ----------------------------------------------------------

POISON = "__POISON__"
POISONS = [
    pytest.param("dose", "1180591620717411303424", "dose_number", id="integer-beyond-64-bits"),
    pytest.param("dose", "Infinity", "dose_number", id="Infinity"),
    pytest.param("dose", "1e100000", "dose_number", id="1e100000"),
    pytest.param("dose", "-1e999999999", "dose_number", id="huge-negative-exponent"),
    pytest.param("updated_at", '"0001-01-01T00:00:00+08:00"', "source_updated_at", id="first-day-of-the-calendar"),
    pytest.param("updated_at", '"9999-12-31T23:59:59-05:00"', "source_updated_at", id="last-day-of-the-calendar"),
    pytest.param("id", json.dumps("V" * 200), "source_record_id", id="over-long-record-id"),
    pytest.param("vaccine", json.dumps("乙肝\u0000疫苗"), "vaccine", id="NUL-in-text"),
    pytest.param("org", '"\\ud800"', "institution", id="unpaired-surrogate"),
    pytest.param("vaccine", '{"name": "乙肝疫苗"}', "vaccine", id="object-where-text-is-expected"),
    pytest.param("vaccine", '["乙肝疫苗"]', "vaccine", id="list-where-text-is-expected"),
    pytest.param("vaccine", "true", "vaccine", id="boolean-where-text-is-expected"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "json_value", "field"), POISONS)
async def test_a_poison_value_is_quarantined_and_the_records_beside_it_are_written(
    hostile: HostileApi, world: World, engine: AsyncEngine, key: str, json_value: str, field: str
) -> None:
    await residents(world, engine)
    good = vaccinations(4)
    poisoned = vaccinations(1, start=4)[0] | {key: POISON}
    body = json.dumps({"data": [*good[:2], poisoned, *good[2:]], "next_cursor": None})
    hostile.answer = pages(body.replace(f'"{POISON}"', json_value).encode())
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, http_source(hostile.base_url))
    assert done.summary.status is SUCCEEDED
    assert done.written == ids(good)
    ((quarantine_key, reason),) = done.quarantined.items()
    assert reason == "SCHEMA_ERROR"
    assert quarantine_key == ("V-00004" if field != "source_record_id" else quarantine_key)
    assert field in str(await _quarantine_message(engine))
    assert done.cursor["watermark"] == good[-1]["updated_at"]


async def _quarantine_message(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        return str(await connection.scalar(text("SELECT message FROM quarantine")))


async def test_a_record_the_database_refuses_is_quarantined_alone_and_its_batch_commits(
    hostile: HostileApi, world: World, engine: AsyncEngine, is_postgres: bool
) -> None:
    await residents(world, engine)
    good = vaccinations(6)
    poisoned = vaccinations(1, start=6, vaccine="毒疫苗")
    hostile.answer = listing(good[:3] + poisoned + good[3:])
    async with _refusing(engine, "毒疫苗", is_postgres=is_postgres):
        with bounded(seconds=10, megabytes=20):
            done = await run(engine, http_source(hostile.base_url))
    assert done.summary.status is SUCCEEDED
    assert done.written == ids(good)
    assert done.quarantined == {"V-00006": "WRITE_ERROR"}
    assert done.cursor["watermark"] == good[-1]["updated_at"]
    assert "refused by a trigger" in await _quarantine_message(engine)


@asynccontextmanager
async def _refusing(engine: AsyncEngine, vaccine: str, *, is_postgres: bool) -> AsyncIterator[None]:
    """A database rule the mapping knows nothing of: the database itself refuses one value."""
    table = "health_vaccinations"
    if is_postgres:
        create = [
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.vaccine = '" + vaccine
            + "' THEN RAISE EXCEPTION 'refused by a trigger' USING ERRCODE = '22000'; END IF;"
            " RETURN NEW; END $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER refuse BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse()",
        ]  # fmt: skip
        drop = [f"DROP TRIGGER refuse ON {table}", "DROP FUNCTION refuse()"]
    else:
        create = [
            f"CREATE TRIGGER refuse BEFORE INSERT ON {table} WHEN NEW.vaccine = '{vaccine}' "
            "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
        ]
        drop = ["DROP TRIGGER refuse"]
    async with engine.begin() as connection:
        for statement in create:
            await connection.execute(text(statement))
    try:
        yield
    finally:
        async with engine.begin() as connection:
            for statement in drop:
                await connection.execute(text(statement))


async def test_a_page_item_that_is_not_an_object_is_quarantined_and_the_page_goes_on(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    good = vaccinations(3)
    hostile.answer = pages({"data": [good[0], "V-00100", 42, None, *good[1:]], "next_cursor": None})
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, http_source(hostile.base_url))
    assert done.summary.status is SUCCEEDED
    assert done.written == ids(good)
    assert sorted(done.quarantined.values()) == ["UNREADABLE"] * 3
    assert done.cursor["watermark"] == good[-1]["updated_at"]


# --- pagination that never ends ------------------------------------------------------------------


def _repeated_cursor(api: HostileApi) -> Any:
    count = 0

    async def answer(request: Request) -> Response:
        nonlocal count
        count += 1
        return JSONResponse(
            {"data": vaccinations(10, start=10 * (count - 1)), "next_cursor": "same"}
        )

    return answer


def _empty_pages(api: HostileApi) -> Any:
    count = 0

    async def answer(request: Request) -> Response:
        nonlocal count
        count += 1
        data = vaccinations(10) if count == 1 else []
        return JSONResponse({"data": data, "next_cursor": f"c{count}"})

    return answer


def _link_to_itself(api: HostileApi) -> Any:
    async def answer(request: Request) -> Response:
        return JSONResponse(vaccinations(10), headers={"Link": f'<{request.url}>; rel="next"'})

    return answer


def _page_ignored(api: HostileApi) -> Any:
    return pages({"data": vaccinations(10)})


LINKS: dict[str, Any] = {"records_path": "", "pagination": {"style": "link", "page_size": 10}}
LOOPS: dict[str, tuple[Any, dict[str, Any], str, int]] = {  # answer, stream settings, reason, pages written before the loop is seen
    "repeated-cursor": (_repeated_cursor, {}, "named page 'same' again", 2),
    "empty-pages-with-a-next-cursor": (_empty_pages, {}, "6 empty pages in a row", 1),
    "next-link-to-itself": (_link_to_itself, LINKS, "points at the page itself", 0),
    "page-parameter-ignored": (
        _page_ignored, {"pagination": {"style": "page", "page_size": 10}},
        "the same page of records twice", 1,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(LOOPS))
async def test_pagination_that_never_ends_fails_the_run_instead_of_running_until_killed(
    hostile: HostileApi, world: World, engine: AsyncEngine, case: str
) -> None:
    await residents(world, engine)
    answer, stream, reason, written = LOOPS[case]
    hostile.answer = answer(hostile)
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, http_source(hostile.base_url, stream=stream))
    assert done.summary.status is FAILED
    assert "pagination loop" in str(done.summary.error)
    assert reason in str(done.summary.error)
    assert done.statuses == ["FAILED"]  # never left RUNNING
    assert len(hostile.seen) <= 8
    assert done.written == ids(vaccinations(10 * written))  # pages before the loop are kept
    assert done.cursor == (None if not written else done.cursor)
    assert done.cursor is None or done.cursor["watermark"] is None  # never finished
    assert done.quarantined == {}


# --- bounded reads -------------------------------------------------------------------------------


async def test_a_server_sending_a_byte_a_second_hits_the_total_deadline(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    body = json.dumps({"data": vaccinations(2), "next_cursor": None}).encode()
    hostile.answer = trickle(body, every=0.05)  # each read is quick; the page takes 20 s
    with bounded(seconds=6, megabytes=20):
        done = await run(engine, http_source(hostile.base_url, timeout_seconds=1, max_attempts=2))
    assert done.summary.status is FAILED
    assert "within 1 s (timeout_seconds)" in str(done.summary.error)
    assert len(hostile.seen) == 2
    assert (done.written, done.quarantined, done.cursor) == ([], {}, None)


async def test_a_gzip_bomb_is_refused_at_the_size_cap_in_bounded_memory(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    bomb = gzip_bomb(200 * 1024 * 1024)  # ~200 KB on the wire, 200 MB inflated
    assert len(bomb) < 300_000
    hostile.answer = gzipped(bomb)
    with bounded(seconds=15, megabytes=40):
        done = await run(engine, http_source(hostile.base_url, max_response_size="4MiB"))
    assert done.summary.status is FAILED
    assert "larger than 4,194,304 bytes decompressed (max_response_size)" in str(done.summary.error)
    assert len(hostile.seen) == 1  # refused, not retried
    assert (done.written, done.quarantined, done.cursor) == ([], {}, None)


async def test_a_page_larger_than_the_download_cap_is_refused_in_bounded_memory(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    huge = json.dumps({"data": vaccinations(1, vaccine="x" * (8 * 1024 * 1024))}).encode()
    hostile.answer = pages(huge)
    with bounded(seconds=15, megabytes=60):
        done = await run(engine, http_source(hostile.base_url, max_download_size="1MiB"))
    assert done.summary.status is FAILED
    assert "larger than 1,048,576 bytes as sent (max_download_size)" in str(done.summary.error)
    assert (done.written, done.quarantined, done.cursor) == ([], {}, None)


async def test_408_and_a_body_that_does_not_decode_are_retried(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    records = vaccinations(3)
    good = gzip.compress(json.dumps({"data": records, "next_cursor": None}).encode())
    answers = [
        JSONResponse({"error": "request timeout"}, 408),
        Response(good[: len(good) // 2], headers={"Content-Encoding": "gzip"}),  # cut short
        Response(b"\x1f\x8b not gzip at all", headers={"Content-Encoding": "gzip"}),
        Response(good, media_type="application/json", headers={"Content-Encoding": "gzip"}),
    ]

    async def answer(request: Request) -> Response:
        return answers.pop(0)

    hostile.answer = answer
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, http_source(hostile.base_url, max_attempts=4))
    assert done.summary.status is SUCCEEDED
    assert len(hostile.seen) == 4
    assert done.written == ids(records)
    assert done.quarantined == {}
    assert done.cursor["watermark"] == records[-1]["updated_at"]


async def test_a_refused_connection_names_the_scheme_host_and_port(
    world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with bounded(seconds=10, megabytes=20):
        done = await run(engine, http_source(f"http://127.0.0.1:{port}/api"))
    assert done.summary.status is FAILED
    error = str(done.summary.error)
    assert f"cannot reach http://127.0.0.1:{port} (ConnectError" in error
    assert "for /api/records" in error
    assert "To recover: nothing is lost" in error
    assert (done.written, done.quarantined, done.cursor) == ([], {}, None)


async def test_a_watermark_that_ran_away_before_is_refused_and_a_full_run_repairs_it(
    hostile: HostileApi, world: World, engine: AsyncEngine
) -> None:
    await residents(world, engine)
    records = vaccinations(3)
    hostile.answer = listing(records)
    async with engine.begin() as connection:  # what an earlier version left
        await connection.execute(
            text(
                "INSERT INTO connector_state (connector, stream, cursor, updated_at) VALUES "
                "('health', 'vaccinations', :cursor, :now)"
            ),
            {"cursor": json.dumps({"watermark": "2999-01-01T00:00:00+00:00", "seen": ["X"]}),
             "now": BASE_TIME},
        )  # fmt: skip
    with bounded(seconds=10, megabytes=20):
        stuck = await run(engine, http_source(hostile.base_url))
    assert stuck.summary.status is FAILED
    assert "watermark 2999-01-01T00:00:00+00:00 lies after this run's start" in str(
        stuck.summary.error
    )
    assert "`hub sync health --full`" in str(stuck.summary.error)
    assert (stuck.written, stuck.quarantined) == ([], {})
    assert hostile.seen == []
    repaired = await run(engine, http_source(hostile.base_url), full=True)
    assert repaired.summary.status is SUCCEEDED
    assert repaired.written == ids(records)
    assert repaired.cursor["watermark"] == records[-1]["updated_at"]
