"""The departments' raw records, converted once from the canonical synthetic district.

`DepartmentWorld.build` runs the demo generator (`hub.demo.population`) and turns every
department record row into the owning department's raw format (`raw`), grouped in
`Stream`s — one per API endpoint, SQL table or export. The HTTP simulators, the social
security database and the education exports all serve from one world, and the helpers here
change it the way live systems change under a running sync: records edited (`touch`), and
records a connector must quarantine (`inject_invalid_ids`, `inject_unknown_residents`).

Stamps are held as aware UTC instants; each stream renders them in its department's format
(`+08:00` ISO text, naive China time, ...). About `shared_stamps` of each stream's records
carry the same `updated_at` as their neighbours, as batch loads leave them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from hub.clock import CHINA_TIME
from hub.demo.district import build_district
from hub.demo.population import AS_OF, generate_population
from hub.demo.simulators import bad_records, codes, raw
from hub.storage import models
from hub.vocabulary import Department

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from hub.demo.district import Scale
    from hub.demo.records import Row
    from hub.demo.simulators.raw import Raw
    from hub.storage.base import Base

HEALTH_STREAMS = ("family-doctor-contracts", "vaccinations", "chronic-diseases")
POLICE_STREAMS = ("households", "residence-permits", "person-flags")
SOCIAL_STREAMS = ("si_enrollment", "sa_grant")
EDUCATION_STREAM = "school-enrollments"


class BadRecord(StrEnum):
    """Why an injected record must end in quarantine."""

    INVALID_ID_NUMBER = "invalid_id_number"
    UNKNOWN_RESIDENT = "unknown_resident"


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """How one department table or endpoint holds its records."""

    name: str
    department: Department
    model: type[models.SourceRecord]
    convert: Callable[[Row, Row], Raw]
    touch: Callable[[Raw, raw.Edit], None]
    id_field: str
    id_number_field: str
    name_field: str | None = None
    stamp_field: str = "updated_at"
    render_stamp: Callable[[datetime], object] = codes.iso_local


SPECS: tuple[StreamSpec, ...] = (
    StreamSpec(
        "family-doctor-contracts",
        Department.HEALTH,
        models.FamilyDoctorContract,
        raw.family_doctor_contract,
        raw.touch_contract,
        id_field="contract_id",
        id_number_field="id_card",
        name_field="name",
    ),
    StreamSpec(
        "vaccinations",
        Department.HEALTH,
        models.Vaccination,
        raw.vaccination,
        raw.touch_vaccination,
        id_field="record_id",
        id_number_field="id_card",
    ),
    StreamSpec(
        "chronic-diseases",
        Department.HEALTH,
        models.ChronicCondition,
        raw.chronic_disease,
        raw.touch_chronic,
        id_field="record_id",
        id_number_field="id_card",
    ),
    StreamSpec(
        "households",
        Department.POLICE,
        models.HouseholdRegistration,
        raw.household_registration,
        raw.touch_household,
        id_field="id",
        id_number_field="sfzh",
        name_field="xm",
    ),
    StreamSpec(
        "residence-permits",
        Department.POLICE,
        models.ResidencePermit,
        raw.residence_permit,
        raw.touch_permit,
        id_field="id",
        id_number_field="sfzh",
        name_field="xm",
    ),
    StreamSpec(
        "person-flags",
        Department.POLICE,
        models.PersonFlag,
        raw.person_flag,
        raw.touch_flag,
        id_field="id",
        id_number_field="sfzh",
    ),
    StreamSpec(
        "si_enrollment",
        Department.SOCIAL_SECURITY,
        models.InsuranceEnrollment,
        raw.insurance_enrollment,
        raw.touch_enrollment,
        id_field="aac001",
        id_number_field="aac002",
        name_field="aac003",
        render_stamp=codes.naive_local,
    ),
    StreamSpec(
        "sa_grant",
        Department.SOCIAL_SECURITY,
        models.AssistanceGrant,
        raw.assistance_grant,
        raw.touch_grant,
        id_field="id",
        id_number_field="id_card",
        name_field="name",
        render_stamp=codes.naive_local,
    ),
    StreamSpec(
        EDUCATION_STREAM,
        Department.EDUCATION,
        models.SchoolEnrollment,
        raw.school_enrollment,
        raw.touch_school,
        id_field="学籍号",
        id_number_field="身份证号",
        name_field="姓名",
        stamp_field="更新时间",
        render_stamp=codes.local_text,
    ),
)
SPEC_BY_MODEL = {spec.model: spec for spec in SPECS}


def utc_now() -> datetime:
    return datetime.now(UTC)


class Stream:
    """One table or endpoint: raw records by id, and their order by (updated_at, id)."""

    def __init__(self, spec: StreamSpec) -> None:
        self.spec = spec
        self.records: dict[str, Raw] = {}
        self.stamps: dict[str, datetime] = {}
        self.injected: dict[str, BadRecord] = {}
        self._order: list[tuple[datetime, str]] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def __len__(self) -> int:
        return len(self.records)

    def add(self, record: Raw, stamp: datetime) -> None:
        self.records[record[self.spec.id_field]] = record
        self.restamp(record[self.spec.id_field], stamp)

    def restamp(self, record_id: str, stamp: datetime) -> None:
        self.stamps[record_id] = stamp
        self.records[record_id][self.spec.stamp_field] = self.spec.render_stamp(stamp)
        self._order = None

    def ordered(self) -> list[tuple[datetime, str]]:
        """(updated_at, id) of every record, ascending; cached until the next change."""
        if self._order is None:
            self._order = sorted((stamp, key) for key, stamp in self.stamps.items())
        return self._order

    def next_stamp(self, now: datetime) -> datetime:
        """`now` to the second, but never before the newest record, so edits sort last."""
        latest = max(self.stamps.values(), default=now)
        return max(now.replace(microsecond=0), latest + timedelta(seconds=1))


@dataclass
class DepartmentWorld:
    """Every department's raw records for one synthetic district, plus the people behind them."""

    seed: int
    as_of: date
    streams: dict[str, Stream]
    residents: dict[str, Row] = field(default_factory=dict)
    id_numbers: set[str] = field(default_factory=set)
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def build(
        cls,
        *,
        scale: Scale = "small",
        residents: int = 2000,
        seed: int = 0,
        as_of: date = AS_OF,
        shared_stamps: float = 0.3,
    ) -> DepartmentWorld:
        """Generate the district once and convert it; deterministic in its arguments."""
        world = cls(seed, as_of, {spec.name: Stream(spec) for spec in SPECS})
        world.rng = random.Random(f"simulators:{seed}")
        for building in generate_population(
            build_district(scale, seed=seed), residents, seed=seed, as_of=as_of
        ):
            world._add_building(building.rows)
        for stream in world.streams.values():
            _share_stamps(stream, world.rng, shared_stamps)
        for record in world.streams[EDUCATION_STREAM].records.values():
            raw.add_typing_noise(record, world.rng)
        return world

    def _add_building(self, rows: dict[type[Base], list[Row]]) -> None:
        for person in rows[models.Resident]:
            self.residents[str(person["id"])] = person
            self.id_numbers.add(str(person["id_number"]))
        for model, spec in SPEC_BY_MODEL.items():
            stream = self.streams[spec.name]
            for row in rows[model]:
                stamp = row["source_updated_at"]
                assert isinstance(stamp, datetime)
                stream.add(spec.convert(row, self.residents[str(row["resident_id"])]), stamp)

    def department(self, department: Department) -> list[Stream]:
        return [s for s in self.streams.values() if s.spec.department is department]

    # --- changes while a sync runs -------------------------------------------------------------

    def touch(
        self,
        stream_name: str,
        *,
        count: int = 1,
        ids: Iterable[str] | None = None,
        now: datetime | None = None,
    ) -> list[str]:
        """Edit `count` random records (or `ids`): change a field and stamp them `now`."""
        stream = self.streams[stream_name]
        chosen = list(ids) if ids is not None else self._sample(stream, count)
        moment = now or utc_now()
        edit = raw.Edit(moment.astimezone(CHINA_TIME).date(), self.rng)
        stamp = stream.next_stamp(moment)
        for record_id in chosen:
            stream.spec.touch(stream.records[record_id], edit)
            stream.restamp(record_id, stamp)
        return chosen

    def _sample(self, stream: Stream, count: int) -> list[str]:
        genuine = [key for key in stream.records if key not in stream.injected]
        return self.rng.sample(genuine, min(count, len(genuine)))

    # --- records a connector must quarantine ---------------------------------------------------

    def inject_invalid_ids(
        self, stream_name: str, count: int, *, now: datetime | None = None
    ) -> list[str]:
        """Add `count` copies of real records whose ID numbers are spoiled (one way each)."""
        return [
            self._inject(stream_name, BadRecord.INVALID_ID_NUMBER, variant, now)
            for variant in range(count)
        ]

    def inject_unknown_residents(
        self, stream_name: str, count: int, *, now: datetime | None = None
    ) -> list[str]:
        """Add `count` records of people with valid ID numbers the police register lacks."""
        return [self._inject(stream_name, BadRecord.UNKNOWN_RESIDENT, 0, now) for _ in range(count)]

    def _inject(self, stream_name: str, kind: BadRecord, variant: int, now: datetime | None) -> str:
        stream = self.streams[stream_name]
        genuine = [key for key in stream.records if key not in stream.injected]
        if not genuine:
            raise ValueError(f"stream {stream_name} has no record to copy")
        record = dict(stream.records[self.rng.choice(genuine)])
        record_id = _injected_id(record[stream.spec.id_field], len(stream.injected) + 1)
        record[stream.spec.id_field] = record_id
        valid = str(record[stream.spec.id_number_field]).strip().upper()
        if kind is BadRecord.INVALID_ID_NUMBER:
            record[stream.spec.id_number_field] = bad_records.invalid_id_number(valid, variant)
        else:
            self._become_stranger(stream.spec, record)
        stream.add(record, stream.next_stamp(now or utc_now()))
        stream.injected[record_id] = kind
        return record_id

    def _become_stranger(self, spec: StreamSpec, record: Raw) -> None:
        number = bad_records.unknown_id_number(self.rng, self.id_numbers)
        record[spec.id_number_field] = number
        if spec.name_field is not None:
            # A surname and a given name from two different residents: a plausible stranger.
            a, b = self.rng.sample(list(self.residents.values()), 2)
            record[spec.name_field] = f"{str(a['name'])[0]}{str(b['name'])[1:]}"
        if "csrq" in record:  # police person fields agree with the number
            record["csrq"] = number[6:14]
            record["xb"] = "1" if int(number[16]) % 2 else "2"


def _injected_id(template: str, serial: int) -> str:
    """An id in the stream's own style (`QY-000000123` → `QY-900000001`), never a real one's."""
    prefix = template.rsplit("-", 1)[0] if "-" in template else "X"
    return f"{prefix}-9{serial:08d}"


def _share_stamps(stream: Stream, rng: random.Random, share: float) -> None:
    """Give runs of 10–60 consecutive records (about `share` of all) one batch-load stamp."""
    keys = list(stream.records)
    start = 0
    while start < len(keys):
        chunk = keys[start : start + rng.randint(10, 60)]
        start += len(chunk)
        if len(chunk) > 1 and rng.random() < share:
            stamp = max(stream.stamps[key] for key in chunk)
            for key in chunk:
                stream.restamp(key, stamp)
