"""Crash safety: a sync SIGKILLed at random moments, then resumed, leaves exactly what a clean run does.

The runs, added up, read every source record once, but for one read by design: a record that
ends in quarantine and is newer than everything accepted does not move the cursor, so every
later run of its stream reads it again, one more `attempts` of its quarantine row
(connectors/README.md). Half the enrollments (for people the households file lacks) are such
records, so when a killed process had got through that stream, the next one reads those 600
again; nothing else is read twice.
"""

from __future__ import annotations

import csv
import io
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.config import Settings
from hub.crypto.store import attach_field_keys
from hub.storage.models import (
    ConnectorRun,
    ConnectorState,
    Household,
    HouseholdRegistration,
    InsuranceEnrollment,
    QuarantinedRecord,
    RunStatus,
)
from hub.storage.session import create_engine, create_sessionmaker
from hub.sync import sync
from tests.conftest import POSTGRES_URL, World, _truncate_postgres, stored_residents
from tests.connectors.support import id_number

ENTRY = Path(__file__).with_name("crash_sync.py")
PEOPLE = 1200
BUILDINGS = ["410105001001001", "410105001001002", "410105002001001"]
KILLS = 4
TOML = """
[code_tables.gender]
"1" = "MALE"
"2" = "FEMALE"

[connectors.police]
kind = "files"
directory = "{police_dir}"

[connectors.police.streams.households]
pattern = "*.csv"
target = "household_registration"
creates_residents = true
batch_size = 20

[connectors.police.streams.households.fields]
source_record_id = "记录号"
source_updated_at = "更新时间"
id_number = "身份证号"
registration_type = {{ value = "FAMILY" }}
household_number = "户号"
relation_to_head = {{ path = "与户主关系", codes = {{ "01" = "HEAD", "02" = "SPOUSE", "03" = "CHILD" }} }}
registered_address = "住址"
registered_on = {{ path = "登记日期", formats = ["%Y年%m月%d日"] }}
police_station = "派出所"
status = {{ value = "ACTIVE" }}

[connectors.police.streams.households.resident]
name = "姓名"
gender = {{ path = "性别", codes = "gender" }}
address = "住址"
grid_code = "网格编码"
household_number = "户号"

[connectors.social]
kind = "sql"
url = "{social_url}"

[connectors.social.streams.enrollments]
table = "insurance"
watermark_column = "updated_at"
key_column = "id"
target = "insurance_enrollment"
batch_size = 25

[connectors.social.streams.enrollments.fields]
source_record_id = "id"
source_updated_at = "updated_at"
id_number = "id_no"
insurance_type = {{ value = "PENSION" }}
scheme = {{ value = "RESIDENT" }}
status = {{ value = "ACTIVE" }}
enrolled_on = "enrolled_on"
"""


def write_department_data(root: Path) -> Path:
    police = root / "police"
    police.mkdir()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "记录号",
            "更新时间",
            "身份证号",
            "姓名",
            "性别",
            "户号",
            "与户主关系",
            "住址",
            "登记日期",
            "派出所",
            "网格编码",
        ]
    )
    for n in range(PEOPLE):
        number = id_number(n) if n % 97 else id_number(n)[:17] + "Y"  # some invalid numbers
        relation = "01" if n % 3 == 0 else "03"
        row = [f"HJ{n:06d}", "2024-03-05 08:00:00", number, f"居民{n}", "1" if int(id_number(n)[16]) % 2 else "2",
               f"H{n // 3:05d}", relation, f"金水区{n // 3}号", "2010年3月5日", "花园路派出所", BUILDINGS[n // 3 % 3]]  # fmt: skip
        writer.writerow(row)
    (police / "户籍.csv").write_bytes(buffer.getvalue().encode("gbk"))
    social = root / "social.db"
    with sqlite3.connect(social) as db:
        db.execute(
            "CREATE TABLE insurance (id INTEGER PRIMARY KEY, updated_at TEXT, id_no TEXT, enrolled_on TEXT)"
        )
        stamps = ["2024-01-01 00:00:00", "2024-02-01 00:00:00"]  # many rows per timestamp
        db.executemany(
            "INSERT INTO insurance VALUES (?, ?, ?, ?)",
            [(n, stamps[n * 2 // PEOPLE], id_number(n + 600), "2015-07-01") for n in range(PEOPLE)],
        )
    toml = root / "connectors.toml"
    toml.write_text(
        TOML.format(police_dir=police, social_url=f"sqlite+aiosqlite:///{social}"), encoding="utf-8"
    )
    return toml


async def snapshot(engine: AsyncEngine) -> dict[str, Any]:
    """Everything a sync writes, keyed by natural keys (resident ids are random per run)."""
    opened = {r.id: r for r in (await stored_residents(engine)).values()}
    async with create_sessionmaker(engine)() as session:
        households = {h.id: h.number for h in await session.scalars(select(Household))}
        residents = opened
        people = sorted(
            (
                r.id_number,
                r.name,
                r.gender,
                r.birth_date,
                r.grid_path,
                households.get(r.household_id or ""),
            )
            for r in residents.values()
        )
        registrations = sorted(
            (
                r.source_record_id,
                residents[r.resident_id].id_number,
                r.household_number,
                r.relation_to_head,
            )
            for r in await session.scalars(select(HouseholdRegistration))
        )
        enrollments = sorted(
            (r.source_record_id, residents[r.resident_id].id_number)
            for r in await session.scalars(select(InsuranceEnrollment))
        )
        quarantine = sorted(
            (q.connector, q.stream, q.record_key, q.reason)
            for q in await session.scalars(select(QuarantinedRecord))
        )
        cursors = sorted(
            (s.connector, s.stream, str(s.cursor))
            for s in await session.scalars(select(ConnectorState))
        )
    return {
        "people": people,
        "registrations": registrations,
        "enrollments": enrollments,
        "quarantine": quarantine,
        "cursors": cursors,
    }


def crash_repeatedly(database_url: str, toml: Path, var_dir: Path, rng: random.Random) -> int:
    """Start the sync and SIGKILL it at a random moment, KILLS times; return how many died mid-run."""
    killed = 0
    command = [sys.executable, str(ENTRY), database_url, str(toml), str(var_dir)]
    for _ in range(KILLS):
        process = subprocess.Popen(command)
        time.sleep(rng.uniform(0.9, 2.0))  # start-up (imports) takes ~0.7 s
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        process.wait(timeout=30)
    finished = subprocess.run(command, timeout=120, check=False)
    assert finished.returncode == 0
    return killed


async def fresh_database(migrated_template: str, tmp_path: Path) -> str:
    if POSTGRES_URL:
        await _truncate_postgres(POSTGRES_URL)
        return POSTGRES_URL
    template = make_url(migrated_template).database
    assert template is not None
    target = tmp_path / "clean.db"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


async def test_a_sync_killed_at_random_points_resumes_to_the_same_tables_as_a_clean_run(
    world: World,
    engine: AsyncEngine,
    settings: Settings,
    database_url: str,
    migrated_template: str,
    tmp_path: Path,
) -> None:
    await world.tree()
    toml = write_department_data(tmp_path)
    killed = crash_repeatedly(database_url, toml, settings.var_dir, random.Random(20241130))
    assert killed >= 1
    crashed = await snapshot(engine)
    async with create_sessionmaker(engine)() as session:
        runs = list(await session.scalars(select(ConnectorRun)))
        held = list(await session.scalars(select(QuarantinedRecord)))
    for stream, total in (("households", PEOPLE), ("enrollments", PEOPLE)):
        mine = [r for r in runs if r.stream == stream]
        quarantined = [q for q in held if q.stream == stream]
        again = sum(q.attempts - 1 for q in quarantined)
        # nothing skipped; nothing read twice but quarantined records newer than the cursor
        assert sum(r.read for r in mine) == total + again
        accepted = sum(r.inserted + r.updated + r.unchanged for r in mine)
        assert accepted == total - len(quarantined)  # each genuine record written once
        assert all(r.status in (RunStatus.SUCCEEDED, RunStatus.FAILED) for r in mine)

    clean_url = await fresh_database(migrated_template, tmp_path)
    clean_engine = create_engine(clean_url)
    clean_settings = Settings(database_url=clean_url, connectors=toml, var_dir=settings.var_dir)
    attach_field_keys(clean_engine, clean_settings)
    try:
        await World(create_sessionmaker(clean_engine)).tree()
        summaries = await sync(clean_settings, clean_engine, env={})
        assert {s.status for s in summaries} == {RunStatus.SUCCEEDED}
        clean = await snapshot(clean_engine)
    finally:
        await clean_engine.dispose()
    assert crashed == clean
    assert len(clean["people"]) == PEOPLE - len(range(0, PEOPLE, 97))
    assert len(clean["quarantine"]) == len(range(0, PEOPLE, 97)) + sum(
        1 for n in range(PEOPLE) if (n + 600) % 97 == 0 or n + 600 >= PEOPLE
    )
