"""Reconciliation helpers: what the simulators hold, what the hub holds, and the demo TOML made fast.

`expected_state(world)` is what a clean sync of the simulators must leave in a hub that held
only the grid tree: every genuine record in its department table (keyed by source and source
record id, with its resident's ID number and its version time), every injected bad record in
quarantine with its reason, and one resident per person in the police register. `hub_state`
reads the same shape back from the hub, so a test compares the two with one `==`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.config import ConnectorsConfig, parse_config
from hub.demo.simulators.education_files import CSV_STAGES, write_education_exports
from hub.demo.simulators.hotline_api import HotlineDesk
from hub.demo.simulators.run import RunningSimulators
from hub.demo.simulators.social_db import TABLES
from hub.demo.simulators.world import EDUCATION_STREAM, BadRecord, DepartmentWorld, Stream
from hub.demo.world_sync import DEMO_CONNECTORS
from hub.identity import normalize_id_number
from hub.storage.models import QuarantinedRecord, QuarantineReason
from hub.storage.session import create_sessionmaker
from tests.conftest import stored_residents

# simulator stream → (connector, the hub stream reading it); education is split by 学段 below.
HUB_STREAMS: dict[str, tuple[str, str]] = {
    "family-doctor-contracts": ("health_api", "family-doctor-contracts"),
    "vaccinations": ("health_api", "vaccinations"),
    "chronic-diseases": ("health_api", "chronic-diseases"),
    "households": ("police_api", "households"),
    "residence-permits": ("police_api", "residence-permits"),
    "person-flags": ("police_api", "person-flags"),
    "si_enrollment": ("social_db", "si_enrollment"),
    "sa_grant": ("social_db", "sa_grant"),
}
EDUCATION = "education_files"
CREATING = ("households", "residence-permits")
SYNC_ORDER = ("police_api", "health_api", "social_db", "education_files", "hotline_12345")
HOTLINE = ("hotline_12345", "work-orders")
REASONS = {
    BadRecord.INVALID_ID_NUMBER: QuarantineReason.INVALID_ID_NUMBER,
    BadRecord.UNKNOWN_RESIDENT: QuarantineReason.UNMATCHED_RESIDENT,
}

Row = tuple[str, str, datetime]  # (source record id, resident's ID number, version time)


@dataclass(frozen=True)
class State:
    """A hub's contents by natural keys (resident uuids differ per run)."""

    records: dict[str, set[Row]]  # table name → rows
    quarantine: set[tuple[str, str, str, QuarantineReason]]  # connector, stream, id, reason
    residents: set[str]  # ID numbers


def second(instant: datetime) -> datetime:
    """UTC to the second: the APIs and exports write whole seconds."""
    aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def hub_stream(stream: Stream, record_id: str) -> tuple[str, str]:
    """The (connector, stream) of the hub that reads this simulator record."""
    if stream.name != EDUCATION_STREAM:
        return HUB_STREAMS[stream.name]
    in_csv = stream.records[record_id]["学段"] in CSV_STAGES
    return EDUCATION, "enrollments-csv" if in_csv else "enrollments-xlsx"


def genuine(stream: Stream) -> list[str]:
    return [key for key in stream.records if key not in stream.injected]


def expected_state(world: DepartmentWorld) -> State:
    records: dict[str, set[Row]] = {}
    quarantine: set[tuple[str, str, str, QuarantineReason]] = set()
    for stream in world.streams.values():
        spec = stream.spec
        rows = records.setdefault(spec.model.__tablename__, set())
        for key in genuine(stream):
            number = normalize_id_number(str(stream.records[key][spec.id_number_field]))
            rows.add((key, number, second(stream.stamps[key])))
        for key, kind in stream.injected.items():
            quarantine.add((*hub_stream(stream, key), key, REASONS[kind]))
    return State(records, quarantine, police_people(world))


def police_people(world: DepartmentWorld) -> set[str]:
    """Distinct people in the police register (households and residence permits)."""
    return {
        normalize_id_number(str(world.streams[name].records[key]["sfzh"]))
        for name in CREATING
        for key in genuine(world.streams[name])
    }


def expected_counts(
    world: DepartmentWorld, hotline: HotlineDesk | None = None
) -> dict[tuple[str, str], int]:
    """Records per hub stream, bad ones included: what a first sync must read (with the
    hotline's work orders when it is given)."""
    counts: dict[tuple[str, str], int] = {HOTLINE: len(hotline.orders)} if hotline else {}
    for stream in world.streams.values():
        for key in stream.records:
            where = hub_stream(stream, key)
            counts[where] = counts.get(where, 0) + 1
    return counts


async def hub_state(engine: AsyncEngine, world: DepartmentWorld) -> State:
    records: dict[str, set[Row]] = {}
    numbers = {r.id: r.id_number for r in (await stored_residents(engine)).values()}
    async with create_sessionmaker(engine)() as session:
        for stream in world.streams.values():
            model = stream.spec.model
            query = select(model.source_record_id, model.resident_id, model.source_updated_at)
            rows = records.setdefault(model.__tablename__, set())
            found = [
                (key, numbers[resident], second(at))
                for key, resident, at in await session.execute(query)
            ]
            rows.update(found)
            total = await session.scalar(select(func.count()).select_from(model))
            assert total == len(rows), f"{model.__tablename__}: duplicated rows"
        quarantined = await session.execute(
            select(
                QuarantinedRecord.connector,
                QuarantinedRecord.stream,
                QuarantinedRecord.record_key,
                QuarantinedRecord.reason,
            )
        )
        quarantine = {(c, s, k, r) for c, s, k, r in quarantined}
    return State(records, quarantine, set(numbers.values()))


# --- the demo connectors, made fast for tests -------------------------------------------------

FAST_HTTP = (
    "timeout_seconds = 1.0\nmax_attempts = 6\nbackoff_seconds = 0.01\n"
    "backoff_max_seconds = 0.05\nretry_after_max_seconds = 2\n"
)


def fast_toml(page_size: int = 50, batch_size: int = 100, *, quick_retries: bool = True) -> str:
    """The shipped demo TOML with small pages (several per stream) and, unless told not to,
    one-second timeouts and quick retries (for the fault tests)."""
    text = DEMO_CONNECTORS.read_text(encoding="utf-8")
    text, pages = re.subn(r"page_size = 500", f"page_size = {page_size}", text)
    text, batches = re.subn(r"batch_size = 1000", f"batch_size = {batch_size}", text)
    retries = FAST_HTTP if quick_retries else ""
    text, kinds = re.subn(r'^kind = "http"\n', f'kind = "http"\n{retries}', text, flags=re.M)
    assert (pages, batches, kinds) == (6, 4, 3), "the demo TOML changed shape; update fast_toml"
    return text


def fast_config(**sizes: Any) -> ConnectorsConfig:
    return parse_config(tomllib.loads(fast_toml(**sizes)), origin="fast demo TOML")


def write_fast_toml(directory: Path, **sizes: Any) -> Path:
    path = directory / "connectors.toml"
    path.write_text(fast_toml(**sizes), encoding="utf-8")
    return path


# --- changing the departments' data ---------------------------------------------------------


def write_social_rows_now(sims: RunningSimulators, table: str, ids: list[str]) -> None:
    """Replace rows of the social database synchronously (usable from a progress callback)."""
    stream = sims.world.streams[table]
    key = TABLES[table].c[stream.spec.id_field]
    engine = sqlalchemy.create_engine(f"sqlite:///{sims.social_db_path}")
    try:
        with engine.begin() as connection:
            connection.execute(delete(TABLES[table]).where(key.in_(ids)))
            connection.execute(insert(TABLES[table]), [stream.records[i] for i in ids])
    finally:
        engine.dispose()


def rewrite_exports(sims: RunningSimulators) -> None:
    """Export the education records again, as the bureau does after changes."""
    write_education_exports(sims.education_dir, sims.world)


def persist(sims: RunningSimulators, changed: dict[str, list[str]]) -> None:
    """Write changed records of the database and the exports (the APIs serve the world live)."""
    for table in TABLES:
        if changed.get(table):
            write_social_rows_now(sims, table, changed[table])
    if changed.get(EDUCATION_STREAM):
        rewrite_exports(sims)


def inject_everywhere(sims: RunningSimulators, kind: BadRecord, count: int) -> dict[str, list[str]]:
    """`count` bad records of `kind` in every stream where they can occur, persisted."""
    added: dict[str, list[str]] = {}
    for name, stream in sims.world.streams.items():
        if not stream.records:
            continue
        if kind is BadRecord.INVALID_ID_NUMBER:
            added[name] = sims.world.inject_invalid_ids(name, count)
        elif name not in CREATING:
            added[name] = sims.world.inject_unknown_residents(name, count)
    persist(sims, added)
    return added
