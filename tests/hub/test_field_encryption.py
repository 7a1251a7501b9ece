"""Field encryption: sealed values that say how they were sealed and cannot be moved or altered,
blind indexes that find a resident in one indexed query, a master key prod cannot run without."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.app import create_app
from hub.config import Settings
from hub.crypto.columns import ID_NUMBER, PHONE
from hub.crypto.master import FieldKeyError, MasterKey, master_key
from hub.crypto.ring import DataKey, FieldCryptoError, KeyRing, parse_header
from hub.crypto.store import FieldKeys, field_keys
from hub.crypto.suites import Suite
from hub.demo.seed import seed_district
from hub.storage.models import Resident
from hub.storage.residents import get_resident
from tests.conftest import FAST_HASHER, GraphQLClient, World

NUMBER = "410105198001010011"
SUITES = [pytest.param(suite, id=suite.name) for suite in Suite]


def ring(suite: Suite, key_id: int = 1) -> KeyRing:
    key = DataKey.from_material(key_id, suite, bytes(range(32)))
    return KeyRing({key_id: key}, current=key_id, searchable=[key_id])


@pytest.mark.parametrize("suite", SUITES)
def test_a_sealed_value_opens_and_records_its_suite_and_key(suite: Suite) -> None:
    keys = ring(suite, key_id=7)

    sealed = keys.seal(ID_NUMBER, NUMBER)

    assert keys.open(ID_NUMBER, sealed) == NUMBER
    assert parse_header(sealed) == (suite, 7)
    assert NUMBER.encode() not in sealed
    assert len(sealed) == 52  # what residents' CHECK constraint expects of an ID number
    assert keys.seal(ID_NUMBER, NUMBER) != sealed  # a fresh nonce every time


@pytest.mark.parametrize("suite", SUITES)
def test_an_altered_or_moved_value_does_not_open(suite: Suite) -> None:
    keys = ring(suite)
    sealed = keys.seal(ID_NUMBER, NUMBER)
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    other_suite = bytes([sealed[0], 3 - sealed[1]]) + sealed[2:]

    with pytest.raises(FieldCryptoError, match="does not open"):
        keys.open(ID_NUMBER, flipped)
    with pytest.raises(FieldCryptoError, match="moved from another column"):
        keys.open(PHONE, sealed)  # the column is bound into the value
    with pytest.raises(FieldCryptoError):
        keys.open(ID_NUMBER, other_suite)


@pytest.mark.parametrize("suite", SUITES)
def test_blind_indexes_are_equal_for_equal_values_under_one_key_only(suite: Suite) -> None:
    one, again, other = ring(suite), ring(suite), ring(suite, key_id=2)
    other_material = DataKey.from_material(1, suite, bytes(32))

    assert one.index(ID_NUMBER, NUMBER) == again.index(ID_NUMBER, NUMBER)
    assert len(one.index(ID_NUMBER, NUMBER)) == 16
    assert one.index(ID_NUMBER, NUMBER) != one.index(ID_NUMBER, NUMBER[:-1] + "2")
    assert one.index(ID_NUMBER, NUMBER) != one.index(PHONE, NUMBER)
    assert one.index(ID_NUMBER, NUMBER) != other_material.index(ID_NUMBER, NUMBER)
    assert one.index(ID_NUMBER, NUMBER) == other.index(ID_NUMBER, NUMBER)  # same material


def test_the_two_suites_index_differently() -> None:
    aes, sm4 = ring(Suite.AES_256_GCM), ring(Suite.SM4_GCM)

    assert aes.index(ID_NUMBER, NUMBER) != sm4.index(ID_NUMBER, NUMBER)


def test_a_data_key_wrapped_under_one_master_key_opens_only_under_it() -> None:
    master, other = MasterKey(bytes(32)), MasterKey(bytes(range(32)))
    wrapped = master.wrap(3, Suite.SM4_GCM, bytes(range(32)))

    assert master.unwrap(3, wrapped) == (Suite.SM4_GCM, bytes(range(32)))
    with pytest.raises(FieldKeyError, match="HUB_FIELD_KEY does not open field key 3"):
        other.unwrap(3, wrapped)
    with pytest.raises(FieldKeyError, match="carries the id 3"):
        master.unwrap(4, wrapped)


# --- the master key --------------------------------------------------------------------------


def test_dev_generates_the_master_key_under_the_var_dir_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    dev = Settings(var_dir=tmp_path / "var", env="dev")

    first, again = master_key(dev), master_key(dev)

    path = tmp_path / "var" / "field.key"
    assert first.hex() == again.hex() == path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_production_without_hub_field_key_refuses_to_start(prod_settings: Settings) -> None:
    without = prod_settings.model_copy(update={"field_key": None})

    with pytest.raises(FieldKeyError, match="HUB_FIELD_KEY is not set"):
        create_app(without, password_hasher=FAST_HASHER)


@pytest.mark.parametrize("value", ["abc", "zz" * 32, "00" * 16])
def test_a_malformed_hub_field_key_is_refused_naming_it(
    prod_settings: Settings, value: str
) -> None:
    bad = prod_settings.model_copy(update={"field_key": SecretStr(value)})

    with pytest.raises(FieldKeyError, match="HUB_FIELD_KEY must be 64 hexadecimal characters"):
        create_app(bad, password_hasher=FAST_HASHER)


async def test_another_master_key_does_not_open_the_database(
    world: World, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    await world.resident(grids["410105001001001"])
    stranger = FieldKeys(engine, MasterKey(bytes(range(32))))

    with pytest.raises(FieldKeyError, match="HUB_FIELD_KEY does not open field key 1"):
        await stranger.ring()


# --- storage and lookups ----------------------------------------------------------------------


async def test_residents_are_stored_sealed_and_read_opened(
    world: World, engine: AsyncEngine, gql: GraphQLClient
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])

    async with engine.connect() as connection:
        stored = (await connection.execute(select(Resident.__table__))).one()
    result = await gql(
        "query($n: String!) { resident(idNumber: $n) { id idNumber phone } }",
        {"n": resident.id_number},
    )

    assert resident.id_number.encode() not in stored.id_number_encrypted
    assert stored.phone_encrypted is not None
    assert resident.phone is not None
    assert resident.phone.encode() not in stored.phone_encrypted
    keys = await field_keys(engine).ring()
    assert stored.id_number_index == keys.index(ID_NUMBER, resident.id_number)
    assert result == {
        "data": {
            "resident": {"id": resident.id, "idNumber": resident.id_number, "phone": resident.phone}
        }
    }


def _plan_text(rows: list[tuple[object, ...]]) -> str:
    return "\n".join(" ".join(str(part) for part in row) for row in rows)


async def test_lookup_by_id_number_is_one_indexed_query(
    engine: AsyncEngine, is_postgres: bool
) -> None:
    """EXPLAIN the very statement `resident(idNumber:)` runs: an index search, on both databases."""
    await seed_district(engine, scale="small", residents=2000, seed=3)
    keys = await field_keys(engine).ring()
    async with engine.connect() as connection:
        resident_id, sealed = (
            await connection.execute(select(Resident.id, Resident.id_number_encrypted).limit(1))
        ).one()
        number = keys.open(ID_NUMBER, sealed)
        if is_postgres:
            await connection.execute(text("ANALYZE residents"))
        statements: list[tuple[str, object]] = []

        def record(*args: object) -> None:
            statements.append((str(args[2]), args[3]))

        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            found = await get_resident(connection, id_number=number, within_path=None, fields=keys)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
        (statement, parameters), *others = statements
        explain = "EXPLAIN " if is_postgres else "EXPLAIN QUERY PLAN "
        plan = _plan_text(
            list(await connection.exec_driver_sql(explain + statement, parameters))  # type: ignore[arg-type]
        )

    assert found is not None
    assert (found.id, found.id_number) == (resident_id, number)
    assert others == []
    assert "id_number_index" in statement
    if is_postgres:
        assert "Index Scan using uq_residents_id_number_index" in plan, plan
    else:
        assert "USING INDEX" in plan, plan
        assert "id_number_index=?" in plan, plan
