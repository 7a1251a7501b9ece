"""Department simulators over real HTTP: OAuth, both paginations, faults, and 1:1 with the generator.

One set of simulators (`sims`) serves the read-only tests of this module; tests that change
data (edits, injected bad records, token lifetimes) start their own small set (`fresh`).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from collections import Counter
from contextlib import closing
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from hub.demo.district import build_district
from hub.demo.population import generate_population
from hub.demo.simulators.faults import Faults
from hub.demo.simulators.run import RunningSimulators, start_simulators
from hub.demo.simulators.social_db import TABLES
from hub.demo.simulators.world import (
    HEALTH_STREAMS,
    POLICE_STREAMS,
    SPEC_BY_MODEL,
    BadRecord,
)
from hub.identity import IdNumberError, normalize_id_number, validate_id_number
from hub.storage.models import Resident

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

pytestmark = pytest.mark.asyncio(loop_scope="module")

RESIDENTS = 1200
SEED = 11
Record = dict[str, Any]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sims(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSimulators]:
    directory = tmp_path_factory.mktemp("simulators")
    async with await start_simulators(directory, residents=RESIDENTS, seed=SEED) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> None:
    """Faults set by one test must not leak into the next one on the shared simulators."""
    if "sims" in request.fixturenames:
        running: RunningSimulators = request.getfixturevalue("sims")
        running.health_faults.reset()
        running.police_faults.reset()


@pytest_asyncio.fixture(loop_scope="module")
async def fresh(tmp_path: Path) -> AsyncIterator[RunningSimulators]:
    """Small simulators of this test's own, free to change; tokens live one second."""
    async with await start_simulators(tmp_path, residents=300, seed=3, token_ttl=1) as running:
        yield running


async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request from a client of its own (the servers share this event loop: never block it)."""
    async with httpx.AsyncClient() as client:
        return await client.request(method, url, **kwargs)


async def get_token(running: RunningSimulators) -> str:
    auth = (running.health_client_id, running.health_client_secret)
    form = {"grant_type": "client_credentials"}
    response = await call("POST", running.health_token_url, data=form, auth=auth)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest_asyncio.fixture(loop_scope="module")
async def health(sims: RunningSimulators) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {await get_token(sims)}"}
    async with httpx.AsyncClient(base_url=sims.health_url, headers=headers) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="module")
async def police(sims: RunningSimulators) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"X-API-Key": sims.police_api_key}
    async with httpx.AsyncClient(base_url=sims.police_url, headers=headers) as client:
        yield client


async def walk_cursor(
    client: httpx.AsyncClient, stream: str, *, limit: int = 500, **params: str
) -> list[Record]:
    """Every record of a health stream, following next_cursor to the end."""
    records: list[Record] = []
    cursor: str | None = None
    while True:
        query = {"limit": str(limit), **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/api/v1/{stream}", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        records += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return records


async def walk_pages(
    client: httpx.AsyncClient, stream: str, *, page_size: int = 500, **params: str
) -> list[Record]:
    """Every record of a police stream, page by page up to total_pages."""
    records: list[Record] = []
    page, pages = 1, 1
    while page <= pages:
        query = {"page": str(page), "page_size": str(page_size), **params}
        response = await client.get(f"/api/{stream}", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["page"], body["page_size"]) == (page, page_size)
        records += body["items"]
        pages = body["total_pages"]
        page += 1
    return records


def instant(record: Record) -> datetime:
    return datetime.fromisoformat(record["updated_at"])


def ordered_ids(running: RunningSimulators, stream: str) -> list[str]:
    return [key for _, key in running.world.streams[stream].ordered()]


# --- OAuth 2.0 -----------------------------------------------------------------------------------


async def test_token_endpoint_accepts_basic_and_post_client_authentication(
    sims: RunningSimulators,
) -> None:
    form = {"grant_type": "client_credentials"}
    auth = (sims.health_client_id, sims.health_client_secret)
    basic = await call("POST", sims.health_token_url, data=form, auth=auth)
    posted = await call(
        "POST",
        sims.health_token_url,
        data=form | {"client_id": auth[0], "client_secret": auth[1]},
    )
    for response in (basic, posted):
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 300
        assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        pytest.param({"grant_type": "client_credentials"}, 401, "invalid_client", id="no-client"),
        pytest.param(
            {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
            401,
            "invalid_client",
            id="wrong-secret",
        ),
        pytest.param({"grant_type": "password"}, 400, "unsupported_grant_type", id="grant"),
    ],
)
async def test_token_endpoint_refuses_bad_requests(
    sims: RunningSimulators, form: dict[str, str], status: int, error: str
) -> None:
    response = await call("POST", sims.health_token_url, data=form)
    assert (response.status_code, response.json()["error"]) == (status, error)


@pytest.mark.parametrize("token", [None, "not-a-token"], ids=["missing", "unknown"])
async def test_health_api_refuses_missing_and_unknown_tokens(
    sims: RunningSimulators, token: str | None
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await call("GET", f"{sims.health_url}/api/v1/vaccinations", headers=headers)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_expired_token_is_refused(fresh: RunningSimulators) -> None:
    headers = {"Authorization": f"Bearer {await get_token(fresh)}"}
    url = f"{fresh.health_url}/api/v1/vaccinations"
    async with httpx.AsyncClient(headers=headers) as client:
        assert (await client.get(url)).status_code == 200
        await asyncio.sleep(1.05)  # token_ttl=1
        assert (await client.get(url)).status_code == 401
        headers["Authorization"] = f"Bearer {await get_token(fresh)}"
        assert (await client.get(url, headers=headers)).status_code == 200
        await call("POST", f"{fresh.health_url}/_faults", json={"expire_tokens": True})
        assert (await client.get(url, headers=headers)).status_code == 401


async def test_police_api_requires_the_api_key(sims: RunningSimulators) -> None:
    url = f"{sims.police_url}/api/households"
    assert (await call("GET", url)).status_code == 401
    assert (await call("GET", url, headers={"X-API-Key": "wrong"})).status_code == 401
    assert (await call("GET", url, headers={"X-API-Key": sims.police_api_key})).status_code == 200


# --- pagination ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", HEALTH_STREAMS)
async def test_cursor_pagination_returns_every_record_once_in_order(
    sims: RunningSimulators, health: httpx.AsyncClient, stream: str
) -> None:
    records = await walk_cursor(health, stream, limit=97)
    ids = [record[sims.world.streams[stream].spec.id_field] for record in records]
    assert ids == ordered_ids(sims, stream)
    assert len(set(ids)) == len(sims.world.streams[stream])


@pytest.mark.parametrize("stream", POLICE_STREAMS)
async def test_page_pagination_returns_every_record_once_in_order(
    sims: RunningSimulators, police: httpx.AsyncClient, stream: str
) -> None:
    records = await walk_pages(police, stream, page_size=97)
    assert [record["id"] for record in records] == ordered_ids(sims, stream)
    beyond = await police.get(f"/api/{stream}", params={"page": "999", "page_size": "97"})
    assert beyond.json()["items"] == []


def _tied_stamp(running: RunningSimulators, stream: str) -> datetime:
    """An updated_at several records share, from the middle of the stream."""
    counts = Counter(stamp for stamp, _ in running.world.streams[stream].ordered())
    shared = sorted(stamp for stamp, count in counts.items() if count > 1)
    return shared[len(shared) // 2]


async def test_updated_since_is_inclusive_on_both_apis(
    sims: RunningSimulators, health: httpx.AsyncClient, police: httpx.AsyncClient
) -> None:
    for stream, walk in (("vaccinations", walk_cursor), ("households", walk_pages)):
        since = _tied_stamp(sims, stream)
        expected = [k for stamp, k in sims.world.streams[stream].ordered() if stamp >= since]
        client = health if stream == "vaccinations" else police
        records = await walk(client, stream, updated_since=since.isoformat())
        id_field = sims.world.streams[stream].spec.id_field
        assert [record[id_field] for record in records] == expected
        assert all(instant(record) >= since for record in records)


@pytest.mark.parametrize(
    "query",
    [{"limit": "0"}, {"limit": "abc"}, {"cursor": "garbage"}, {"updated_since": "yesterday"}],
    ids=["zero-limit", "text-limit", "bad-cursor", "bad-since"],
)
async def test_bad_query_parameters_get_400(
    health: httpx.AsyncClient, query: dict[str, str]
) -> None:
    assert (await health.get("/api/v1/vaccinations", params=query)).status_code == 400


# --- faults --------------------------------------------------------------------------------------


async def test_unavailable_burst_answers_503_then_recovers(
    sims: RunningSimulators, police: httpx.AsyncClient
) -> None:
    sims.police_faults.unavailable = 2
    statuses = [(await police.get("/api/households")).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


async def test_rate_limit_answers_429_with_retry_after(
    sims: RunningSimulators, health: httpx.AsyncClient
) -> None:
    sims.health_faults.rate_limited = 1
    limited = await health.get("/api/v1/vaccinations")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "1")
    assert (await health.get("/api/v1/vaccinations")).status_code == 200


async def test_slow_responses_and_timeouts(
    sims: RunningSimulators, health: httpx.AsyncClient
) -> None:
    sims.health_faults.slow, sims.health_faults.delay = 2, 0.3
    started = time.perf_counter()
    assert (await health.get("/api/v1/chronic-diseases")).status_code == 200
    assert time.perf_counter() - started >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        await health.get("/api/v1/chronic-diseases", timeout=0.1)
    assert sims.health_faults.slow == 0


async def test_malformed_page_is_invalid_json_with_status_200(
    sims: RunningSimulators, police: httpx.AsyncClient
) -> None:
    sims.police_faults.malformed = 1
    broken = await police.get("/api/households")
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    assert (await police.get("/api/households")).json()["items"]


async def test_overlap_repeats_the_previous_pages_tail_on_both_apis(
    sims: RunningSimulators, health: httpx.AsyncClient, police: httpx.AsyncClient
) -> None:
    sims.health_faults.overlap = sims.police_faults.overlap = 3
    contracts = await walk_cursor(health, "family-doctor-contracts", limit=100)
    households = await walk_pages(police, "households", page_size=100)
    for stream, records, key in (
        ("family-doctor-contracts", contracts, "contract_id"),
        ("households", households, "id"),
    ):
        expected = ordered_ids(sims, stream)
        pages = -(-len(expected) // 100)
        assert len(records) == len(expected) + 3 * (pages - 1)
        assert [record[key] for record in records[100:103]] == expected[97:100]
        assert {record[key] for record in records} == set(expected)


async def test_fault_endpoint_sets_shows_and_resets(sims: RunningSimulators) -> None:
    url = f"{sims.police_url}/_faults"
    shown = (await call("POST", url, json={"unavailable": 4, "delay": 0.5})).json()
    assert (shown["unavailable"], shown["delay"]) == (4, 0.5)
    assert sims.police_faults.unavailable == 4
    assert (await call("POST", url, json={"explode": 1})).status_code == 400
    assert (await call("POST", url, json={"unavailable": -1})).status_code == 400
    assert (await call("DELETE", url)).json()["unavailable"] == 0
    assert (await call("GET", url)).json() == json.loads(json.dumps(asdict(Faults())))


async def test_records_edited_during_a_sync_are_read_again_with_their_change(
    fresh: RunningSimulators,
) -> None:
    stream = fresh.world.streams["vaccinations"]
    before = {key: dict(record) for key, record in stream.records.items()}
    fresh.health_faults.update_after, fresh.health_faults.update_count = 2, 4
    headers = {"Authorization": f"Bearer {await get_token(fresh)}"}
    async with httpx.AsyncClient(base_url=fresh.health_url, headers=headers) as client:
        records = await walk_cursor(client, "vaccinations", limit=200)
    edited = fresh.health_faults.updated
    assert len(edited) == 4
    assert {record["record_id"] for record in records} == set(before)
    latest = {record["record_id"]: record for record in records}  # last sighting wins
    for key in edited:
        assert instant(latest[key]) > max(instant(record) for record in before.values())
        assert latest[key]["batch_no"] != before[key]["batch_no"]


async def test_updates_during_an_offset_walk_can_skip_records(fresh: RunningSimulators) -> None:
    """Numbered pages are unstable under change, as in real systems; connectors must cope."""
    fresh.police_faults.update_after, fresh.police_faults.update_count = 1, 30
    headers = {"X-API-Key": fresh.police_api_key}
    async with httpx.AsyncClient(base_url=fresh.police_url, headers=headers) as client:
        records = await walk_pages(client, "households", page_size=50)
    assert len(fresh.police_faults.updated) == 30
    assert {r["id"] for r in records} < set(fresh.world.streams["households"].records)


async def test_injected_bad_records_are_served(fresh: RunningSimulators) -> None:
    body = {"inject": {"stream": "chronic-diseases", "invalid_id_numbers": 4}}
    injected = (await call("POST", f"{fresh.health_url}/_faults", json=body)).json()["injected"]
    body = {"inject": {"stream": "chronic-diseases", "unknown_residents": 2}}
    injected += (await call("POST", f"{fresh.health_url}/_faults", json=body)).json()["injected"]
    headers = {"Authorization": f"Bearer {await get_token(fresh)}"}
    async with httpx.AsyncClient(base_url=fresh.health_url, headers=headers) as client:
        served = {r["record_id"]: r for r in await walk_cursor(client, "chronic-diseases")}
    kinds = fresh.world.streams["chronic-diseases"].injected
    registered = {r["sfzh"] for r in fresh.world.streams["households"].records.values()}
    registered |= {r["sfzh"] for r in fresh.world.streams["residence-permits"].records.values()}
    for key in injected:
        number = served[key]["id_card"]
        if kinds[key] is BadRecord.INVALID_ID_NUMBER:
            with pytest.raises(IdNumberError):
                validate_id_number(number)
        else:
            validate_id_number(number)
            assert number not in registered
    reasons = set()
    for key in injected[:4]:
        try:
            validate_id_number(served[key]["id_card"])
        except IdNumberError as error:
            reasons.add(error.reason)
    assert len(reasons) == 4  # each spoiled a different way


# --- the raw formats (the contract with the connectors) ----------------------------------------

CONTRACT_FIELDS = {
    "family-doctor-contracts": "contract_id id_card name doctor team org_name package sign_date "
    "end_date status updated_at",
    "vaccinations": "record_id id_card vaccine_name dose vaccination_date unit batch_no updated_at",
    "chronic-diseases": "record_id id_card disease_name icd10 diagnosis_date manage_status "
    "last_followup updated_at",
    "households": "id sfzh xm xb csrq lxdh hh yhzgx lb hjdz jzdz wgbm djrq pcs zt updated_at",
    "residence-permits": "id sfzh xm xb csrq lxdh jzdz wgbm zzbh hjd qfrq yxqz pcs zt updated_at",
    "person-flags": "id sfzh lx bz lrrq yx updated_at",
}
FORMATS = {
    "updated_at": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00",
    "sign_date": r"\d{4}-\d\d-\d\d",
    "vaccination_date": r"\d{8}",
    "diagnosis_date": r"\d{4}年\d{1,2}月\d{1,2}日",
    "last_followup": r"\d{4}/\d{1,2}/\d{1,2}",
    "status": "有效|过期|解约",
    "manage_status": "规范管理|未规范管理|已治愈",
    "xb": "[12]",
    "csrq": r"\d{8}",
    "djrq": r"\d{4}-\d\d-\d\d",
    "yhzgx": "户主|配偶|子女|父母|孙子女|其他",
    "lb": "家庭户|集体户",
    "zt": "正常|迁出|注销|有效|过期",
    "lx": "社区矫正|社区戒毒|严重精神障碍|刑满释放|重点信访",
}


@pytest.mark.parametrize("stream", [*HEALTH_STREAMS, *POLICE_STREAMS])
async def test_api_records_have_exactly_the_contract_fields_and_formats(
    sims: RunningSimulators, health: httpx.AsyncClient, police: httpx.AsyncClient, stream: str
) -> None:
    if stream in HEALTH_STREAMS:
        records = await walk_cursor(health, stream, limit=1000)
    else:
        records = await walk_pages(police, stream, page_size=1000)
    for record in records:
        assert list(record) == CONTRACT_FIELDS[stream].split()
        for field, pattern in FORMATS.items():
            if record.get(field) is not None:
                assert re.fullmatch(pattern, str(record[field])), (field, record[field])
    if stream == "person-flags":
        assert all(isinstance(record["yx"], bool) for record in records)


# --- one to one with the canonical generator -----------------------------------------------------


async def _served_by_stream(
    sims: RunningSimulators, health: httpx.AsyncClient, police: httpx.AsyncClient
) -> dict[str, list[Record]]:
    served = {s: await walk_cursor(health, s, limit=1000) for s in HEALTH_STREAMS}
    served |= {s: await walk_pages(police, s, page_size=1000) for s in POLICE_STREAMS}
    engine = create_async_engine(sims.social_db_url)
    async with engine.connect() as connection:
        for name, table in TABLES.items():
            served[name] = [
                dict(row) for row in (await connection.execute(select(table))).mappings()
            ]
    await engine.dispose()
    served["school-enrollments"] = _education_rows(sims)
    return served


def _education_rows(sims: RunningSimulators) -> list[Record]:
    text = sims.education.csv_path.read_bytes().decode("gbk")
    rows: list[Record] = list(csv.DictReader(io.StringIO(text)))
    assert sims.education.xlsx_path is not None
    with closing(load_workbook(sims.education.xlsx_path, read_only=True)) as workbook:
        header, *body = workbook["学籍"].iter_rows(values_only=True)
    return rows + [dict(zip(header, values, strict=True)) for values in body]


async def test_departments_hold_exactly_the_canonical_records(
    sims: RunningSimulators, health: httpx.AsyncClient, police: httpx.AsyncClient
) -> None:
    served = await _served_by_stream(sims, health, police)
    residents: dict[object, Record] = {}
    expected: dict[str, dict[str, tuple[str, str]]] = {s: {} for s in served}
    district = build_district("small", seed=SEED)
    for building in generate_population(district, RESIDENTS, seed=SEED):
        residents |= {person["id"]: person for person in building.rows[Resident]}
        for model, spec in SPEC_BY_MODEL.items():
            for row in building.rows[model]:
                person = residents[row["resident_id"]]
                expected[spec.name][str(row["source_record_id"])] = (
                    str(person["id_number"]),
                    str(person["name"]),
                )
    for model, spec in SPEC_BY_MODEL.items():
        actual = {
            str(record[spec.id_field]): (
                normalize_id_number(str(record[spec.id_number_field])),
                str(record[spec.name_field]).strip() if spec.name_field else "",
            )
            for record in served[spec.name]
        }
        assert len(actual) == len(served[spec.name]), spec.name  # no record twice
        wanted = {
            key: (number, name if spec.name_field else "")
            for key, (number, name) in expected[spec.name].items()
        }
        assert actual == wanted, model.__name__
