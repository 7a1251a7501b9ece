"""`hub keys rotate-field-key` run beside `hub serve` (two processes, two key rings refreshed
from the database): lookups by ID number keep answering throughout, and afterwards every
sealed value is under the new key and suite."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from hub.config import Settings
from hub.crypto.columns import SEALED
from hub.crypto.ring import key_id_of
from hub.crypto.store import attach_field_keys
from hub.storage.session import create_engine
from tests.conftest import stored_residents
from tests.e2e.conftest import (
    HUB_BIN,
    LiveHub,
    district_code,
    e2e_database,
    run_hub,
    seed_database,
)

pytestmark = pytest.mark.e2e

REFRESH = "0.5"  # HUB_FIELD_KEYS_REFRESH_SECONDS for the server and the command alike
LOOKUP = "query($n: String!) { resident(idNumber: $n) { id idNumber } }"


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[LiveHub]:
    with e2e_database(tmp_path) as database_url:
        seed_database(database_url, tmp_path / "var")
        district = district_code(database_url)
        with run_hub(
            database_url, tmp_path, district=district, HUB_FIELD_KEYS_REFRESH_SECONDS=REFRESH
        ) as hub:
            yield hub


async def residents_and_keys(hub: LiveHub) -> tuple[dict[str, str], set[int]]:
    """ID number → resident id, and the key ids of every sealed value, read by the test."""
    settings = Settings(database_url=hub.database_url, var_dir=Path(hub.env["HUB_VAR_DIR"]))
    engine = create_engine(hub.database_url)
    attach_field_keys(engine, settings)
    try:
        residents = {number: r.id for number, r in (await stored_residents(engine)).items()}
        keys: set[int] = set()
        async with engine.connect() as connection:
            for table, columns in SEALED.items():
                query = select(*(table.c[column.column] for column in columns))
                for row in await connection.execute(query):
                    keys |= {key_id_of(value) for value in row if value is not None}
    finally:
        await engine.dispose()
    return residents, keys


def test_lookups_keep_answering_while_another_process_rotates_the_field_key(
    serving: LiveHub,
) -> None:
    hub = serving
    residents, before = asyncio.run(residents_and_keys(hub))
    headers = hub.caller_headers("service_center_clerk", grid=hub.district_code)
    numbers = sorted(residents)
    stop = threading.Event()
    answered: list[int] = []
    wrong: list[str] = []

    def look_up(offset: int) -> None:
        with httpx.Client(timeout=30) as client:
            index = offset
            while not stop.is_set():
                number = numbers[index % len(numbers)]
                body = {"query": LOOKUP, "variables": {"n": number}}
                result = client.post(hub.endpoint(), json=body, headers=headers).json()
                found = (result.get("data") or {}).get("resident")
                if found is None or found["id"] != residents[number]:
                    wrong.append(f"{number}: {result}")
                answered.append(1)
                index += 7

    threads = [threading.Thread(target=look_up, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    env = {**hub.env, "HUB_FIELD_KEYS_REFRESH_SECONDS": REFRESH}
    started = time.monotonic()
    try:
        command = subprocess.run(
            [str(HUB_BIN), "keys", "rotate-field-key", "--suite", "SM4-GCM/HMAC-SM3", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    took = time.monotonic() - started
    _, after = asyncio.run(residents_and_keys(hub))

    assert command.returncode == 0, command.stderr
    report = json.loads(command.stdout)
    assert before == {1}
    assert report["key_id"] == 2
    assert report["suite"] == "SM4-GCM/HMAC-SM3"
    assert report["resealed"] >= len(residents)
    assert after == {2}
    assert wrong == []
    assert len(answered) > 20, f"{len(answered)} lookups in {took:.1f} s"
