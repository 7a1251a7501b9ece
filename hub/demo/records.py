"""Department records for one synthetic resident: police, health, social security, education.

`RecordMaker` turns a `Person` in a `Home` into rows (plain dicts keyed by column name) for the
nine department record tables. Each row carries provenance: `source`, a `source_record_id`
unique per source (a per-source counter behind a per-table prefix, so it is stable for a seed),
`source_updated_at` (aware UTC) and `resident_id`.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from hub.clock import add_years
from hub.demo import reference as ref
from hub.storage.models import (
    AssistanceGrant,
    ChronicCondition,
    FamilyDoctorContract,
    HouseholdRegistration,
    InsuranceEnrollment,
    PersonFlag,
    ResidencePermit,
    SchoolEnrollment,
    Vaccination,
)
from hub.vocabulary import (
    AssistanceType,
    ConditionStatus,
    ContractStatus,
    EnrollmentStatus,
    Gender,
    GrantStatus,
    HouseholdRelation,
    InsuranceScheme,
    InsuranceType,
    PermitStatus,
    RegistrationStatus,
    RegistrationType,
    ResidentTag,
    SchoolStage,
    SchoolStatus,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from decimal import Decimal

    from hub.demo.district import BuildingSite
    from hub.storage.models import SourceRecord

Row = dict[str, object]
RecordRow = tuple["type[SourceRecord]", Row]

_DAYS_PER_MONTH = 30.44
_STAGES: tuple[tuple[SchoolStage, int, int], ...] = (
    (SchoolStage.PRESCHOOL, 3, 5),
    (SchoolStage.PRIMARY, 6, 11),
    (SchoolStage.JUNIOR_SECONDARY, 12, 14),
    (SchoolStage.SENIOR_SECONDARY, 15, 17),
)


@dataclass(slots=True)
class Home:
    """A household as the record makers see it."""

    id: str
    number: str
    address: str
    site: BuildingSite
    origin: str | None  # region code of a migrant household, None when locally registered


@dataclass(slots=True)
class Person:
    """A resident as the record makers see it."""

    id: str
    id_number: str
    name: str
    gender: Gender
    birth_date: date
    age: int
    relation: HouseholdRelation
    tags: set[ResidentTag] = field(default_factory=set)


def school_stage(age: int) -> tuple[SchoolStage, int] | None:
    """The stage and grade a child of `age` (at school-year start) attends, if any."""
    for stage, first, last in _STAGES:
        if first <= age <= last:
            return stage, age - first + 1
    return None


class RecordMaker:
    """Builds the department records of residents, drawing from one seeded RNG."""

    def __init__(self, rng: random.Random, as_of: date, pools: Pools) -> None:
        self.rng = rng
        self.as_of = as_of
        self.pools = pools
        self._serials: Counter[str] = Counter()
        self._stamp_floor = as_of - timedelta(days=730)
        self._as_of_instant = datetime.combine(as_of, time(), tzinfo=UTC)

    def records(self, person: Person, home: Home) -> Iterator[RecordRow]:
        """Every department record of one resident."""
        yield from self.police(person, home)
        conditions = list(self.chronic_conditions(person))
        yield from conditions
        yield from self.family_doctor(person, home, chronic=bool(conditions))
        yield from self.vaccinations(person, home)
        yield from self.insurance(person)
        yield from self.assistance(person)
        yield from self.schooling(person, home)

    # --- shared helpers --------------------------------------------------------------------

    def _base(self, source: str, prefix: str, person: Person, touched: date) -> Row:
        self._serials[source] += 1
        return {
            "source": source,
            "source_record_id": f"{prefix}-{self._serials[source]:09d}",
            "source_updated_at": self._stamp(touched),
            "resident_id": person.id,
        }

    def _stamp(self, touched: date) -> datetime:
        """A UTC instant between `touched` (at most two years back) and the start of `as_of`."""
        start = datetime.combine(max(touched, self._stamp_floor), time(), tzinfo=UTC)
        span = (self._as_of_instant - start).total_seconds()
        return start + timedelta(seconds=int(self.rng.random() * span)) if span > 0 else start

    def between(self, start: date, end: date) -> date:
        """A uniform day in [start, end] (or `end` when the range is empty)."""
        span = (end - start).days
        return end if span <= 0 else start + timedelta(days=self.randint(0, span))

    def randint(self, low: int, high: int) -> int:
        """`random.randint` for hot paths: one `random()` call instead of several."""
        return low + int(self.rng.random() * (high - low + 1))

    def _chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    # --- police ----------------------------------------------------------------------------

    def police(self, person: Person, home: Home) -> Iterator[RecordRow]:
        if home.origin is None:
            yield HouseholdRegistration, self._registration(person, home)
        else:
            yield ResidencePermit, self._permit(person, home, home.origin)
        if person.age >= 18 and self._chance(0.003):
            yield PersonFlag, self._flag(person)

    def _registration(self, person: Person, home: Home) -> Row:
        if person.age < 18 or self._chance(0.4):
            registered = min(person.birth_date + timedelta(days=self.randint(7, 60)), self.as_of)
        else:
            registered = self.between(add_years(person.birth_date, 18), self.as_of)
        return self._base(ref.SOURCE_POLICE, "HJ", person, registered) | {
            "registration_type": RegistrationType.FAMILY,
            "household_number": home.number,
            "relation_to_head": person.relation,
            "registered_address": f"河南省{home.address}",
            "registered_on": registered,
            "police_station": ref.police_station(home.site.street),
            "status": RegistrationStatus.ACTIVE,
        }

    def _permit(self, person: Person, home: Home, origin: str) -> Row:
        expired = self._chance(0.12)
        back = self.randint(400, 1100) if expired else self.randint(0, 360)
        issued = max(self.as_of - timedelta(days=back), person.birth_date)
        serial = f"{self._serials[ref.SOURCE_POLICE] + 1:07d}"
        return self._base(ref.SOURCE_POLICE, "JZZ", person, issued) | {
            "permit_number": f"{ref.LOCAL_REGION}{issued.year}{serial[-7:]}",
            "origin_region": ref.MIGRANT_REGIONS[origin][0],
            "issued_on": issued,
            "valid_until": add_years(issued, 1),
            "police_station": ref.police_station(home.site.street),
            "status": PermitStatus.EXPIRED if expired else PermitStatus.VALID,
        }

    def _flag(self, person: Person) -> Row:
        flag_type = self.rng.choices(
            list(ref.PERSON_FLAG_NOTES), [w for _, w in ref.PERSON_FLAG_NOTES.values()]
        )[0]
        flagged = self.between(self.as_of - timedelta(days=5 * 365), self.as_of)
        return self._base(ref.SOURCE_POLICE, "ZD", person, flagged) | {
            "flag_type": flag_type,
            "note": ref.PERSON_FLAG_NOTES[flag_type][0],
            "flagged_on": flagged,
            "active": self._chance(0.85),
        }

    # --- health ----------------------------------------------------------------------------

    def chronic_conditions(self, person: Person) -> Iterator[RecordRow]:
        for name, icd10, prevalence in ref.CHRONIC_CONDITIONS:
            rate = max((p for since, p in prevalence if person.age >= since), default=0.0)
            if rate and self._chance(rate):
                yield ChronicCondition, self._condition(person, name, icd10)

    def _condition(self, person: Person, name: str, icd10: str) -> Row:
        onset = max(add_years(person.birth_date, 30), self.as_of - timedelta(days=25 * 365))
        diagnosed = self.between(onset, self.as_of)
        managed = self._chance(0.82)
        follow_up = self.between(max(diagnosed, self.as_of - timedelta(days=90)), self.as_of)
        return self._base(ref.SOURCE_HEALTH, "MB", person, diagnosed) | {
            "condition": name,
            "icd10_code": icd10,
            "diagnosed_on": diagnosed,
            "status": ConditionStatus.MANAGED if managed else ConditionStatus.UNMANAGED,
            "last_follow_up_on": follow_up if managed else None,
        }

    def family_doctor(self, person: Person, home: Home, *, chronic: bool) -> Iterator[RecordRow]:
        if not self._chance(0.85 if person.age >= 65 else 0.35):
            return
        signed = self.between(self.as_of - timedelta(days=500), self.as_of)
        valid_until = add_years(signed, 1) - timedelta(days=1)
        doctor = self.rng.choice(self.pools.doctors)
        yield (
            FamilyDoctorContract,
            self._base(ref.SOURCE_HEALTH, "QY", person, signed)
            | {
                "doctor_name": doctor,
                "team": f"{doctor}家庭医生团队",
                "institution": ref.health_centre(home.site.street),
                "service_package": _service_package(person, chronic=chronic),
                "signed_on": signed,
                "valid_until": valid_until,
                "status": ContractStatus.ACTIVE
                if valid_until >= self.as_of
                else ContractStatus.EXPIRED,
            },
        )

    def vaccinations(self, person: Person, home: Home) -> Iterator[RecordRow]:
        clinic = f"{ref.health_centre(home.site.street)}预防接种门诊"
        if person.age < 15 and self._chance(0.97):
            for vaccine, dose, months in ref.VACCINE_SCHEDULE:
                due = person.birth_date + timedelta(days=round(months * _DAYS_PER_MONTH))
                given = due + timedelta(days=self.randint(0, 20))
                if given > self.as_of:
                    break
                yield Vaccination, self._vaccination(person, vaccine, dose, given, clinic)
        if self._chance(0.25 if person.age >= 60 else 0.08):
            season = date(self.as_of.year - 1, 10, 1)
            given = max(self.between(season, season + timedelta(days=75)), person.birth_date)
            yield Vaccination, self._vaccination(person, ref.FLU_VACCINE, 1, given, clinic)

    def _vaccination(
        self, person: Person, vaccine: str, dose: int, given: date, clinic: str
    ) -> Row:
        return self._base(ref.SOURCE_HEALTH, "YM", person, given) | {
            "vaccine": vaccine,
            "dose_number": dose,
            "administered_on": given,
            "institution": clinic,
            "batch_number": f"{given.year}{self.randint(0, 999_999):06d}",
        }

    # --- social security -------------------------------------------------------------------

    def insurance(self, person: Person) -> Iterator[RecordRow]:
        retirement_age = 60 if person.gender is Gender.MALE else 55
        if person.age < 18:
            if self._chance(0.96):
                yield self._enrollment(person, InsuranceType.MEDICAL, InsuranceScheme.RESIDENT)
        elif person.age < retirement_age and self._chance(0.35 if person.age < 23 else 0.75):
            yield from self._employee_insurance(person)
        elif person.age < retirement_age:
            yield from self._resident_insurance(person, InsuranceScheme.RESIDENT)
        else:
            retired_employee = self._chance(0.65)
            scheme = InsuranceScheme.EMPLOYEE if retired_employee else InsuranceScheme.RESIDENT
            yield from self._resident_insurance(person, scheme)

    def _employee_insurance(self, person: Person) -> Iterator[RecordRow]:
        employer = self.rng.choice(self.pools.employers)
        hired = self.between(add_years(person.birth_date, 18), self.as_of)
        for kind in InsuranceType:
            yield self._enrollment(person, kind, InsuranceScheme.EMPLOYEE, employer, hired)

    def _resident_insurance(self, person: Person, scheme: InsuranceScheme) -> Iterator[RecordRow]:
        if self._chance(0.88):
            yield self._enrollment(person, InsuranceType.PENSION, scheme)
        if self._chance(0.96):
            yield self._enrollment(person, InsuranceType.MEDICAL, scheme)

    def _enrollment(
        self,
        person: Person,
        kind: InsuranceType,
        scheme: InsuranceScheme,
        employer: str | None = None,
        enrolled: date | None = None,
    ) -> RecordRow:
        if enrolled is None:
            start = max(person.birth_date, date(2010, 1, 1))
            enrolled = self.between(start, self.as_of)
        status = EnrollmentStatus.SUSPENDED if self._chance(0.02) else EnrollmentStatus.ACTIVE
        return InsuranceEnrollment, self._base(ref.SOURCE_SOCIAL, "CB", person, enrolled) | {
            "insurance_type": kind,
            "scheme": scheme,
            "status": status,
            "enrolled_on": enrolled,
            "employer": employer,
        }

    def assistance(self, person: Person) -> Iterator[RecordRow]:
        if ResidentTag.LOW_INCOME in person.tags:
            amount = self.rng.choice(ref.SUBSISTENCE_AMOUNTS)
            yield self._grant(person, AssistanceType.SUBSISTENCE_ALLOWANCE, amount)
        elif ResidentTag.ELDERLY_ALONE in person.tags and self._chance(0.1):
            yield self._grant(person, AssistanceType.EXTREME_POVERTY, ref.EXTREME_POVERTY_AMOUNT)
        if ResidentTag.DISABLED in person.tags and self._chance(0.9):
            amount = self.rng.choice(ref.DISABILITY_AMOUNTS)
            yield self._grant(person, AssistanceType.DISABILITY_ALLOWANCE, amount)

    def _grant(self, person: Person, kind: AssistanceType, amount: Decimal) -> RecordRow:
        start = self.between(
            max(person.birth_date, self.as_of - timedelta(days=6 * 365)), self.as_of
        )
        start = start.replace(day=1)
        status = GrantStatus.SUSPENDED if self._chance(0.03) else GrantStatus.ACTIVE
        return AssistanceGrant, self._base(ref.SOURCE_SOCIAL, "JZ", person, start) | {
            "assistance_type": kind,
            "monthly_amount": amount,
            "start_on": start,
            "end_on": None,
            "status": status,
        }

    # --- education -------------------------------------------------------------------------

    def schooling(self, person: Person, home: Home) -> Iterator[RecordRow]:
        placement = school_stage(person.age)
        if placement is None:
            return
        stage, grade = placement
        if stage is SchoolStage.PRESCHOOL and not self._chance(0.92):
            return
        if stage is SchoolStage.SENIOR_SECONDARY:
            if not self._chance(0.93):
                return
            stage = SchoolStage.VOCATIONAL if self._chance(0.35) else stage
        yield SchoolEnrollment, self._enrollment_row(person, home, stage, grade)

    def _enrollment_row(self, person: Person, home: Home, stage: SchoolStage, grade: int) -> Row:
        enrolled = date(self.as_of.year - grade + 1, 9, 1)
        return self._base(ref.SOURCE_EDUCATION, "XJ", person, enrolled) | {
            "school": self._school(stage, home.site),
            "stage": stage,
            "grade": grade,
            "class_name": f"{self.randint(1, 12)}班",
            "status": SchoolStatus.ENROLLED,
            "enrolled_on": enrolled,
        }

    def _school(self, stage: SchoolStage, site: BuildingSite) -> str:
        if stage is SchoolStage.PRESCHOOL:
            suffix = self.rng.choice(ref.KINDERGARTEN_SUFFIXES)
            return f"郑州市金水区{ref.area_stem(site.community)}{suffix}"
        if stage is SchoolStage.PRIMARY:
            suffix = self.rng.choice(ref.PRIMARY_SCHOOL_SUFFIXES)
            return f"郑州市金水区{ref.area_stem(site.street)}{suffix}"
        catalogue = {
            SchoolStage.JUNIOR_SECONDARY: ref.JUNIOR_SCHOOLS,
            SchoolStage.SENIOR_SECONDARY: ref.SENIOR_SCHOOLS,
        }.get(stage, ref.VOCATIONAL_SCHOOLS)
        return self.rng.choice(catalogue)


@dataclass(frozen=True, slots=True)
class Pools:
    """Names drawn once from Faker and reused: doctors and employers."""

    doctors: Sequence[str]
    employers: Sequence[str]


def _service_package(person: Person, *, chronic: bool) -> str:
    if chronic:
        return ref.SERVICE_PACKAGES[2]
    if person.age >= 65:
        return ref.SERVICE_PACKAGES[1]
    if person.age < 7:
        return ref.SERVICE_PACKAGES[3]
    return ref.SERVICE_PACKAGES[0]
