"""`hub keys rotate-field-key`: every sealed value moves to a new key (and suite) while the hub
serves, an interrupted rotation resumes, and nothing is lost under load."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.app import create_app
from hub.config import Settings
from hub.crypto.columns import MEMBER_PHONE, SEALED
from hub.crypto.ring import key_id_of
from hub.crypto.rotation import rotate_field_key
from hub.crypto.store import attach_field_keys, field_keys
from hub.crypto.suites import Suite
from hub.demo.seed import seed_district
from hub.storage.models import FieldKey, FieldKeyState, GridMember
from hub.storage.session import create_engine
from hub.sync import sync_source
from tests.conftest import (
    FAST_HASHER,
    Clients,
    GraphQLClient,
    World,
    close_app,
    quarantine_rows,
    stored_residents,
)
from tests.connectors.support import (
    BASE_TIME,
    health_source,
    id_number,
    police_record,
    police_source,
    vaccination_record,
)

BUILDING = "410105001001001"
REFRESH = 0.1
SETTLE = 0.3
OTHER = {Suite.AES_256_GCM: Suite.SM4_GCM, Suite.SM4_GCM: Suite.AES_256_GCM}
LOOKUP = "query($n: String!) { resident(idNumber: $n) { id idNumber phone } }"


async def sealed_key_ids(engine: AsyncEngine) -> set[int]:
    """The key ids of every sealed value in the database."""
    found: set[int] = set()
    async with engine.connect() as connection:
        for table, columns in SEALED.items():
            query = select(*(table.c[column.column] for column in columns))
            for row in await connection.execute(query):
                found |= {key_id_of(value) for value in row if value is not None}
    return found


async def key_states(engine: AsyncEngine) -> dict[int, tuple[str, FieldKeyState]]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(FieldKey.id, FieldKey.suite, FieldKey.state))
        return {key_id: (suite, state) for key_id, suite, state in rows}


async def plain_state(engine: AsyncEngine) -> tuple[Any, ...]:
    """Everything sealed, opened: residents, board phones, quarantined payloads."""
    residents = await stored_residents(engine)
    ring = await field_keys(engine).ring()
    async with engine.connect() as connection:
        members = await connection.execute(select(GridMember.id, GridMember.phone_encrypted))
        phones = {key: ring.open_optional(MEMBER_PHONE, sealed) for key, sealed in members}
    payloads = [(row.record_key, row.payload) for row in await quarantine_rows(engine)]
    return residents, phones, sorted(payloads, key=lambda item: item[0])


@asynccontextmanager
async def opened(settings: Settings, **changes: Any) -> AsyncIterator[AsyncEngine]:
    """Another engine on the test's database (another process, as far as keys go)."""
    engine = create_engine(settings.database_url)
    attach_field_keys(engine, settings.model_copy(update=changes))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.mark.parametrize("start", [pytest.param(s, id=s.name) for s in Suite])
async def test_rotation_reseals_everything_under_the_new_key_and_suite(
    settings: Settings, start: Suite
) -> None:
    async with opened(settings, field_suite=start) as engine:  # its first key in `start`
        keys = field_keys(engine)
        await seed_district(engine, scale="small", residents=300, seed=4)
        await sync_source(engine, health_source([vaccination_record(1, person=9999)]))
        before = await plain_state(engine)

        there = await rotate_field_key(
            keys, suite=OTHER[start], batch_size=64, settle_seconds=SETTLE
        )
        moved = (await key_states(engine), await sealed_key_ids(engine), await plain_state(engine))
        back = await rotate_field_key(keys, suite=start, batch_size=500, settle_seconds=SETTLE)

        assert (there.key_id, there.suite) == (2, OTHER[start])
        assert there.resealed == there.rows > 300  # residents, board members, quarantine
        assert moved == (
            {
                1: (start.value, FieldKeyState.RETIRED),
                2: (OTHER[start].value, FieldKeyState.CURRENT),
            },
            {2},
            before,
        )
        assert (back.key_id, back.suite) == (3, start)
        assert await sealed_key_ids(engine) == {3}
        assert await plain_state(engine) == before


class Interrupted(Exception):
    pass


async def test_an_interrupted_rotation_resumes_where_it_stopped(
    engine: AsyncEngine, world: World
) -> None:
    keys = field_keys(engine)
    await seed_district(engine, scale="small", residents=300, seed=5)
    before = await plain_state(engine)

    def stop_after_two_batches(done: int, total: int) -> None:
        if done > 100:
            raise Interrupted

    with pytest.raises(Interrupted):
        await rotate_field_key(
            keys, batch_size=50, settle_seconds=SETTLE, progress=stop_after_two_batches
        )
    halfway = await sealed_key_ids(engine)
    states = await key_states(engine)
    assert halfway == {1, 2}  # some rows moved, some not: both keys open them meanwhile
    assert states[1][1] is FieldKeyState.PREVIOUS
    assert states[2][1] is FieldKeyState.CURRENT
    assert await plain_state(engine) == before

    report = await rotate_field_key(keys, batch_size=50, settle_seconds=SETTLE)

    assert report.resumed
    assert report.key_id == 2
    assert await sealed_key_ids(engine) == {2}
    assert (await key_states(engine))[1][1] is FieldKeyState.RETIRED
    assert await plain_state(engine) == before


async def test_a_rotation_stopped_before_its_key_was_used_resumes_with_that_key(
    engine: AsyncEngine,
) -> None:
    keys = field_keys(engine)
    await seed_district(engine, scale="small", residents=50, seed=6)
    task = asyncio.ensure_future(rotate_field_key(keys, suite=Suite.SM4_GCM, settle_seconds=30))
    while 2 not in await key_states(engine):
        await asyncio.sleep(0.05)
    task.cancel()  # Ctrl-C while every process learns the pending key
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await key_states(engine))[2] == (Suite.SM4_GCM.value, FieldKeyState.PENDING)

    report = await rotate_field_key(keys, suite=Suite.AES_256_GCM, settle_seconds=0.1)

    assert (report.resumed, report.key_id, report.suite) == (True, 2, Suite.SM4_GCM)
    assert await sealed_key_ids(engine) == {2}
    assert 3 not in await key_states(engine)


# --- under load ----------------------------------------------------------------------------


@dataclass
class Load:
    """What the load did: lookups answered and refused, phones the writer last wrote."""

    lookups: int = 0
    failures: list[str] = field(default_factory=list)
    phones: dict[str, str] = field(default_factory=dict)  # ID number → phone last written
    people: dict[str, int] = field(default_factory=dict)  # ID number → police_record's n
    writes: int = 0


async def read_forever(client: GraphQLClient, load: Load, stop: asyncio.Event) -> None:
    rng = random.Random(7)
    while not stop.is_set():
        number = rng.choice(list(load.phones))
        result = await client(LOOKUP, {"n": number})
        load.lookups += 1
        found = (result.get("data") or {}).get("resident")
        if "errors" in result or found is None or found["idNumber"] != number:
            load.failures.append(f"{number}: {result}")


async def write_forever(engine: AsyncEngine, load: Load, stop: asyncio.Event, first: int) -> None:
    """Rounds of police register updates: new phones for some, new residents."""
    rng, round_, next_person = random.Random(11), 0, first
    while not stop.is_set():
        round_ += 1
        at = (BASE_TIME + timedelta(days=round_)).strftime("%Y-%m-%d %H:%M:%S")
        people = [load.people[number] for number in rng.sample(sorted(load.people), 10)]
        records = [
            police_record(n, grid=BUILDING, updated=at, dh=f"139{round_:04d}{n:04d}")
            for n in people
        ]
        records += [police_record(next_person + i, grid=BUILDING) for i in range(5)]
        summary = await sync_source(engine, police_source(records, batch_size=7), full=True)
        if any(s.status.value != "SUCCEEDED" for s in summary):
            load.failures.append(f"sync: {summary}")
        for n, record in zip([*people, *range(next_person, next_person + 5)], records, strict=True):
            load.phones[record["sfzh"]] = record["dh"]
            load.people[record["sfzh"]] = n
        load.writes += len(records)
        next_person += 5
        await asyncio.sleep(0)


@pytest.fixture
async def quick_app(settings: Any) -> AsyncIterator[Starlette]:
    app = create_app(
        settings.model_copy(update={"field_keys_refresh_seconds": REFRESH}),
        password_hasher=FAST_HASHER,
    )
    yield app
    await close_app(app)


# Writes run while the lookups do: the two executors would see different data in turn.
@pytest.mark.served_executor_only
@pytest.mark.parametrize("start", [pytest.param(s, id=s.name) for s in Suite])
async def test_a_rotation_under_load_loses_nothing(
    settings: Any, world: World, clients: Clients, quick_app: Starlette, start: Suite
) -> None:
    """Lookups by ID number and register updates run the whole time, in other 'processes'
    (the app and the writer each hold their own keys, refreshed every REFRESH s)."""
    quick = {"field_keys_refresh_seconds": REFRESH, "field_suite": start}
    async with opened(settings, **quick) as writer_engine, opened(settings, **quick) as rotator:
        writer_keys, rotator_keys = field_keys(writer_engine), field_keys(rotator)
        await world.tree()
        await writer_keys.ring()  # the first key, in `start`
        people = list(range(1, 201))
        await sync_source(
            writer_engine,
            police_source([police_record(n, grid=BUILDING) for n in people], batch_size=50),
        )
        load = Load(
            phones={id_number(n): f"1380000{n:04d}" for n in people},
            people={id_number(n): n for n in people},
        )
        transport = httpx.ASGITransport(app=quick_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            app_clients = Clients(http, clients.sessionmaker, clients.policy)
            reader = await app_clients.graphql("everything")
            stop = asyncio.Event()
            tasks = [
                *(asyncio.ensure_future(read_forever(reader, load, stop)) for _ in range(3)),
                asyncio.ensure_future(write_forever(writer_engine, load, stop, first=500)),
            ]
            report = await rotate_field_key(
                rotator_keys, suite=OTHER[start], batch_size=40, settle_seconds=3 * REFRESH
            )
            stop.set()
            await asyncio.gather(*tasks)

            assert load.failures == []
            # The load ran throughout (how much depends on the machine: 50 lookups on a busy one)
            assert load.lookups >= 20
            assert load.writes >= 20
            assert report.suite is OTHER[start]
            assert await sealed_key_ids(writer_engine) == {report.key_id}
            stored = await stored_residents(writer_engine)
            assert {number: r.phone for number, r in stored.items()} == load.phones
            for number, phone in load.phones.items():
                found = await reader(LOOKUP, {"n": number})
                assert found["data"]["resident"]["phone"] == phone
