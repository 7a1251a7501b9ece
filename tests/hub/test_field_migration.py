"""The field encryption migration: existing ID numbers, phones and quarantined payloads are
sealed without losing any, and the downgrade gives every one of them back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.config import Settings
from hub.crypto.master import FieldKeyError
from hub.crypto.store import attach_field_keys
from hub.crypto.suites import Suite
from hub.storage import migrations
from hub.storage.session import create_engine
from tests.conftest import quarantine_rows, stored_residents

BEFORE = "5b1c7e2f9a40"  # the revision before field encryption
NUMBERS = ["410105198001010011", "41010519900202002X", "410105200003030033"]
PHONES = ["13800001111", None, "0371-66661234"]
PAYLOAD = {"sfzh": "410105195005050055", "lxdh": "13900009999", "xm": "张三", "odd": "\ud800"}


@pytest.fixture
async def old_database(scratch_database_url: str) -> AsyncIterator[AsyncEngine]:
    """A database at the revision before, holding residents, a board and a quarantined record."""
    await asyncio.to_thread(migrations.upgrade, scratch_database_url, BEFORE)
    engine = create_engine(scratch_database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO grids (code, name, level, path, created_at) VALUES "
                "('410105', '金水区', 'DISTRICT', '410105/', '2026-01-01')"
            )
        )
        for n, (number, phone) in enumerate(zip(NUMBERS, PHONES, strict=True)):
            await connection.execute(
                text(
                    "INSERT INTO residents (id, id_number, name, gender, birth_date, phone,"
                    " grid_code, grid_path, created_at, updated_at) VALUES (:id, :number,"
                    " '居民', 'MALE', '1980-01-01', :phone, '410105', '410105/', '2026-01-01',"
                    " '2026-01-01')"
                ),
                {"id": f"r-{n}", "number": number, "phone": phone},
            )
        await connection.execute(
            text(
                "INSERT INTO grid_members (grid_code, name, post, kind, phone) VALUES "
                "('410105', '刘建国', 'GRID_CHIEF', 'CADRE', '13700007777')"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO quarantine (connector, stream, record_key, reason, message, payload,"
                " attempts, first_seen_at, last_seen_at) VALUES ('police_api', 'households',"
                " 'HJ-1', 'UNMATCHED_RESIDENT', 'no resident', :payload, 1, '2026-01-01',"
                " '2026-01-01')"
            ),
            {"payload": json.dumps(PAYLOAD)},
        )
    yield engine
    await engine.dispose()


async def plain_rows(engine: AsyncEngine) -> tuple[Any, ...]:
    """The plain columns as the old schema holds them."""
    async with engine.connect() as connection:
        residents = (
            await connection.execute(text("SELECT id, id_number, phone FROM residents ORDER BY id"))
        ).all()
        phones = (await connection.execute(text("SELECT phone FROM grid_members"))).all()
        payload = (await connection.execute(text("SELECT payload FROM quarantine"))).scalar_one()
    parsed = json.loads(payload) if isinstance(payload, str) else payload
    return [tuple(row) for row in residents], [tuple(row) for row in phones], parsed


@pytest.mark.parametrize("suite", [pytest.param(s, id=s.name) for s in Suite])
async def test_existing_data_is_sealed_by_the_upgrade_and_given_back_by_the_downgrade(
    old_database: AsyncEngine, scratch_database_url: str, settings: Settings, suite: Suite
) -> None:
    url = scratch_database_url
    configured = settings.model_copy(update={"database_url": url, "field_suite": suite})
    before = await plain_rows(old_database)

    await asyncio.to_thread(migrations.upgrade, url, settings=configured)
    engine = create_engine(url)
    attach_field_keys(engine, configured)
    try:
        residents = await stored_residents(engine)
        (quarantined,) = await quarantine_rows(engine)
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda sync: [c["name"] for c in inspect(sync).get_columns("residents")]
            )
            keys = (await connection.execute(text("SELECT id, suite, state FROM field_keys"))).all()
    finally:
        await engine.dispose()

    assert {r.id: (r.id_number, r.phone) for r in residents.values()} == {
        f"r-{n}": (number, phone)
        for n, (number, phone) in enumerate(zip(NUMBERS, PHONES, strict=True))
    }
    assert quarantined.payload == PAYLOAD
    assert "id_number" not in columns
    assert "phone" not in columns
    assert [tuple(row) for row in keys] == [(1, suite.value, "CURRENT")]

    await asyncio.to_thread(migrations.downgrade, url, BEFORE, settings=configured)
    assert await plain_rows(old_database) == before
    await asyncio.to_thread(migrations.upgrade, url, settings=configured)


async def test_sealing_existing_data_in_production_needs_hub_field_key(
    old_database: AsyncEngine, scratch_database_url: str, prod_settings: Settings
) -> None:
    url = scratch_database_url
    without = prod_settings.model_copy(update={"database_url": url, "field_key": None})

    with pytest.raises(FieldKeyError, match="HUB_FIELD_KEY is not set"):
        await asyncio.to_thread(migrations.upgrade, url, settings=without)

    async with old_database.connect() as connection:
        version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    assert version == BEFORE  # nothing half done: the migration is one transaction
    assert (await plain_rows(old_database))[0][0] == ("r-0", NUMBERS[0], PHONES[0])


async def test_a_different_master_key_cannot_downgrade(
    old_database: AsyncEngine, scratch_database_url: str, settings: Settings
) -> None:
    url = scratch_database_url
    configured = settings.model_copy(update={"database_url": url})
    await asyncio.to_thread(migrations.upgrade, url, settings=configured)
    other = configured.model_copy(update={"field_key": SecretStr("11" * 32)})

    with pytest.raises(FieldKeyError, match="does not open field key 1"):
        await asyncio.to_thread(migrations.downgrade, url, BEFORE, settings=other)
