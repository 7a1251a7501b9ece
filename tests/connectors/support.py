"""Builders shared by the connector tests: department-shaped raw records, stream configs, a memory source."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connectors.base import Batch, Cursor, Source, Stream
from connectors.config import ConnectorsConfig, SourceBase, StreamBase, parse_config
from hub.identity import make_id_number

DISTRICT = "410105"
BASE_TIME = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)

POLICE_FIELDS: dict[str, Any] = {
    "source_record_id": "rid",
    "source_updated_at": "updated",
    "id_number": "sfzh",
    "registration_type": {"value": "FAMILY"},
    "household_number": "hh",
    "relation_to_head": {"path": "yhzgx", "codes": "relation"},
    "registered_address": "dz",
    "registered_on": {"path": "djrq", "formats": ["%Y年%m月%d日", "%Y%m%d"]},
    "police_station": "pcs",
    "status": {"path": "zt", "codes": {"正常": "ACTIVE", "迁出": "MOVED_OUT"}},
}
POLICE_RESIDENT: dict[str, Any] = {
    "name": "xm",
    "gender": {"path": "xb", "codes": "gender"},
    "phone": "dh",
    "address": "dz",
    "grid_code": "wg",
    "household_number": "hh",
}
VACCINATION_FIELDS: dict[str, Any] = {
    "source_record_id": "id",
    "source_updated_at": "updated_at",
    "id_number": "person.id_no",
    "vaccine": "vaccine",
    "dose_number": "dose",
    "administered_on": {"path": "date", "formats": ["%Y%m%d"]},
    "institution": "org",
}
CODE_TABLES = {
    "gender": {"1": "MALE", "2": "FEMALE"},
    "relation": {"01": "HEAD", "02": "SPOUSE", "03": "CHILD"},
}


def id_number(n: int, *, born: date = date(1980, 1, 1)) -> str:
    return make_id_number(region=DISTRICT, birth_date=born + timedelta(days=n), sequence=n % 1000)


def police_record(
    n: int, *, grid: str, household: str | None = None, **overrides: Any
) -> dict[str, Any]:
    record = {
        "rid": f"HJ-{n:05d}",
        "updated": (BASE_TIME + timedelta(minutes=n)).strftime("%Y-%m-%d %H:%M:%S"),
        "sfzh": id_number(n),
        "xm": f"居民{n}",
        "xb": "1" if n % 2 else "2",
        "dh": f"1380000{n:04d}",
        "hh": household or f"H{n:05d}",
        "yhzgx": "01",
        "dz": f"金水区花园路{n}号",
        "wg": grid,
        "djrq": "2010年3月5日",
        "pcs": "花园路派出所",
        "zt": "正常",
    }
    return record | overrides


def vaccination_record(n: int, *, person: int, **overrides: Any) -> dict[str, Any]:
    record = {
        "id": f"V-{n:05d}",
        "updated_at": (BASE_TIME + timedelta(seconds=n // 7)).isoformat(),
        "person": {"id_no": id_number(person)},
        "vaccine": "乙肝疫苗",
        "dose": n % 3 + 1,
        "date": "20240305",
        "org": "金水区疾控中心",
    }
    return record | overrides


def stream_config(
    fields: dict[str, Any],
    *,
    target: str,
    resident: dict[str, Any] | None = None,
    batch_size: int = 50,
) -> StreamBase:
    return StreamBase.model_validate(
        {
            "target": target,
            "creates_residents": resident is not None,
            "fields": fields,
            "resident": resident or {},
            "batch_size": batch_size,
        }
    )


def connectors_config(connectors: dict[str, Any]) -> ConnectorsConfig:
    return parse_config({"code_tables": CODE_TABLES, "connectors": connectors})


class MemoryStream(Stream[StreamBase]):
    """Yields a list of raw records in batches; the cursor is the offset reached."""

    records: list[dict[str, Any]]

    async def read(self, cursor: Cursor | None) -> AsyncIterator[Batch]:
        start = int((cursor or {}).get("offset", 0))
        size = self.config.batch_size
        for index in range(start, len(self.records), size):
            end = min(index + size, len(self.records))
            yield Batch(self.records[index:end], {"offset": end})


class MemorySource(Source):
    """A department system that is just lists of records, for pipeline tests."""

    def __init__(
        self, name: str, streams: dict[str, tuple[StreamBase, list[dict[str, Any]]]]
    ) -> None:
        config = SourceBase()
        super().__init__(name, config)
        for stream_name, (stream_config, records) in streams.items():
            stream = MemoryStream(
                stream_name, stream_config, source=config, code_tables=CODE_TABLES
            )
            stream.records = records
            self.streams[stream_name] = stream


def police_source(
    records: list[dict[str, Any]], *, name: str = "police", batch_size: int = 50
) -> MemorySource:
    config = stream_config(
        POLICE_FIELDS,
        target="household_registration",
        resident=POLICE_RESIDENT,
        batch_size=batch_size,
    )
    return MemorySource(name, {"households": (config, records)})


def health_source(
    records: list[dict[str, Any]], *, name: str = "health", batch_size: int = 50
) -> MemorySource:
    config = stream_config(VACCINATION_FIELDS, target="vaccination", batch_size=batch_size)
    return MemorySource(name, {"vaccinations": (config, records)})
