"""The synthetic population of a district: households, residents, tags and department records.

`generate_population` is pure (no database) and deterministic: the same district, resident
count, seed and `as_of` day yield the same rows. It yields one `BuildingPopulation` per building
grid, so memory stays flat however many residents are asked for; each holds plain dicts keyed
by column name, ready for a Core `insert(Model)` executemany.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from faker import Faker

from hub.clock import add_years
from hub.demo import reference as ref
from hub.demo.district import CITY_PREFIX, split_evenly
from hub.demo.records import Home, Person, Pools, RecordMaker
from hub.identity import make_id_number
from hub.storage.models import DEPARTMENT_RECORD_MODELS, Household, Resident, ResidentTagRow
from hub.vocabulary import Gender, HouseholdRelation, ResidentTag

if TYPE_CHECKING:
    from collections.abc import Iterator

    from hub.demo.district import BuildingSite, District
    from hub.demo.records import Row
    from hub.storage.base import Base

AS_OF = date(2026, 9, 1)
"""The day the synthetic district describes (also the start of the school year)."""

TABLE_ORDER: tuple[type[Base], ...] = (
    Household,
    Resident,
    ResidentTagRow,
    *DEPARTMENT_RECORD_MODELS,
)
"""Every table the population fills, parents before children."""

MIGRANT_SHARE = 0.15
_HOUSEHOLD_SIZE_WEIGHTS = (24, 30, 26, 12, 8)  # sizes 1..5
_REL = HouseholdRelation
Spec = tuple[HouseholdRelation, int, Gender]
"""One household member to be: relation to the head, age, gender."""


@dataclass(frozen=True, slots=True)
class BuildingPopulation:
    """The rows for one building grid, per table in `TABLE_ORDER`."""

    building: BuildingSite
    rows: dict[type[Base], list[Row]]

    @property
    def residents(self) -> int:
        return len(self.rows[Resident])


def _other(gender: Gender) -> Gender:
    return Gender.FEMALE if gender is Gender.MALE else Gender.MALE


def _clamp_age(age: int) -> int:
    return max(0, min(100, age))


class HouseholdComposer:
    """Draws coherent households of 1–5: couples, children, grandparents, left-behind children."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def size(self) -> int:
        return self.rng.choices(range(1, 6), _HOUSEHOLD_SIZE_WEIGHTS)[0]

    def compose(self, size: int) -> list[Spec]:
        builders = {1: self._one, 2: self._two, 3: self._three, 4: self._four, 5: self._five}
        return builders[size]()

    def _gender(self) -> Gender:
        return Gender.MALE if self.rng.random() < 0.5 else Gender.FEMALE

    def _elder_age(self) -> int:
        return _clamp_age(60 + int(self.rng.expovariate(1 / 12)))

    def _couple(self, head_age: int) -> list[Spec]:
        head = Gender.MALE if self.rng.random() < 0.75 else Gender.FEMALE
        spouse_age = max(20, _clamp_age(head_age + self.rng.randint(-4, 4)))
        return [(_REL.HEAD, head_age, head), (_REL.SPOUSE, spouse_age, _other(head))]

    def _children(self, parent_age: int, count: int) -> list[Spec]:
        first = max(0, parent_age - self.rng.randint(24, 36))
        ages = [first, max(0, first - self.rng.randint(2, 8))][:count]
        return [(_REL.CHILD, age, self._gender()) for age in ages]

    def _parents(self, head_age: int, count: int) -> list[Spec]:
        father = _clamp_age(head_age + self.rng.randint(24, 34))
        mother = max(head_age + 18, father - self.rng.randint(0, 4))
        parents = [(_REL.PARENT, father, Gender.MALE), (_REL.PARENT, mother, Gender.FEMALE)]
        return parents if count == 2 else [parents[self.rng.random() < 0.65]]

    def _left_behind(self, grandparents: int) -> list[Spec]:
        elders = self._couple(self.rng.randint(55, 78))[:grandparents]
        return [*elders, (_REL.GRANDCHILD, self.rng.randint(3, 15), self._gender())]

    def _one(self) -> list[Spec]:
        draw = self.rng.random()
        if draw < 0.45:
            age = self.rng.randint(20, 39)
        else:
            age = self.rng.randint(40, 59) if draw < 0.6 else self._elder_age()
        return [(_REL.HEAD, age, self._gender())]

    def _two(self) -> list[Spec]:
        draw = self.rng.random()
        if draw < 0.7:
            young = self.rng.random() < 0.45
            return self._couple(self.rng.randint(22, 40) if young else self.rng.randint(45, 88))
        if draw < 0.95:
            age = self.rng.randint(28, 55)
            return [(_REL.HEAD, age, self._gender()), *self._children(age, 1)]
        return self._left_behind(1)

    def _three(self) -> list[Spec]:
        draw = self.rng.random()
        if draw < 0.78:
            age = self.rng.randint(26, 55)
            return [*self._couple(age), *self._children(age, 1)]
        if draw < 0.95:
            age = self.rng.randint(30, 62)
            return [*self._couple(age), *self._parents(age, 1)]
        return self._left_behind(2)

    def _four(self) -> list[Spec]:
        age = self.rng.randint(30, 50)
        if self.rng.random() < 0.5:
            return [*self._couple(age), *self._children(age, 2)]
        return [*self._couple(age), *self._children(age, 1), *self._parents(age, 1)]

    def _five(self) -> list[Spec]:
        age = self.rng.randint(28, 50)
        if self.rng.random() < 0.6:
            return [*self._couple(age), *self._children(age, 1), *self._parents(age, 2)]
        return [*self._couple(age), *self._children(age, 2), *self._parents(age, 1)]


class AddressBook:
    """Hands out the door addresses of one building in order, leaving some flats empty."""

    def __init__(self, site: BuildingSite, rng: random.Random) -> None:
        self.site = site
        self.rng = rng
        self.floors = rng.randint(6, 33)
        self.per_floor = rng.randint(2, 4)
        self.slot = -1

    def next(self) -> str:
        self.slot += 2 if self.rng.random() < 0.15 else 1
        place = f"{CITY_PREFIX}{self.site.street}{self.site.compound}"
        if self.site.building_number is None:
            return f"{place}自然村{self.slot + 1}号"
        unit = self.slot // (self.floors * self.per_floor) + 1
        floor = self.slot // self.per_floor % self.floors + 1
        room = self.slot % self.per_floor + 1
        return f"{place}{self.site.building_number}号楼{unit}单元{floor}{room:02d}室"


@dataclass(slots=True)
class _Household:
    """A household being generated: its home, members to be and household-wide traits."""

    home: Home
    specs: list[Spec]
    low_income: bool

    @property
    def alone(self) -> bool:
        return len(self.specs) == 1

    @property
    def parents_away(self) -> bool:
        return all(relation is not _REL.CHILD for relation, _, _ in self.specs)


class PopulationGenerator:
    """Stateful generator behind `generate_population`; one instance per run."""

    def __init__(self, district: District, *, seed: int, as_of: date) -> None:
        self.district = district
        self.as_of = as_of
        self.rng = random.Random(seed)
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.composer = HouseholdComposer(self.rng)
        pools = Pools(
            doctors=[str(self.fake.name()) for _ in range(300)],
            employers=[str(self.fake.company()) for _ in range(800)],
        )
        self.records = RecordMaker(self.rng, as_of, pools)
        # Faker's weighted surname draw is slow; a large pool drawn once keeps its frequencies.
        self._surname_pool = [str(self.fake.last_name()) for _ in range(5000)]
        self._sequences: dict[tuple[str, date], list[int]] = {}
        self._households = 0
        self._origins = list(ref.MIGRANT_REGIONS)
        self._origin_weights = [weight for _, weight in ref.MIGRANT_REGIONS.values()]

    def run(self, residents: int) -> Iterator[BuildingPopulation]:
        buildings = self.district.buildings
        counts = split_evenly(residents, len(buildings), self.rng, 0.5, minimum=0)
        for site, count in zip(buildings, counts, strict=True):
            yield self.building(site, count)

    def building(self, site: BuildingSite, count: int) -> BuildingPopulation:
        rows: dict[type[Base], list[Row]] = {model: [] for model in TABLE_ORDER}
        addresses = AddressBook(site, self.rng)
        remaining = count
        while remaining > 0:
            specs = self.composer.compose(min(self.composer.size(), remaining))
            self._household(self._new_household(site, addresses.next(), specs), rows)
            remaining -= len(specs)
        return BuildingPopulation(site, rows)

    # --- households ------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _new_household(self, site: BuildingSite, address: str, specs: list[Spec]) -> _Household:
        self._households += 1
        number = f"{ref.LOCAL_REGION}{self._households:09d}"
        migrant = self.rng.random() < MIGRANT_SHARE
        origin = self.rng.choices(self._origins, self._origin_weights)[0] if migrant else None
        home = Home(self._uuid(), number, address, site, origin)
        return _Household(home, specs, low_income=self.rng.random() < 0.03)

    def _household(self, household: _Household, rows: dict[type[Base], list[Row]]) -> None:
        home = household.home
        rows[Household].append(
            {
                "id": home.id,
                "number": home.number,
                "address": home.address,
                "grid_code": home.site.code,
            }
        )
        for person in self._people(household):
            rows[Resident].append(self._resident_row(person, home))
            rows[ResidentTagRow].extend(
                {"resident_id": person.id, "tag": tag} for tag in sorted(person.tags)
            )
            for model, row in self.records.records(person, home):
                rows[model].append(row)

    # --- people ----------------------------------------------------------------------------

    def _people(self, household: _Household) -> Iterator[Person]:
        surnames = self._surnames(household.specs)
        region = household.home.origin or ref.LOCAL_REGION
        for (relation, age, gender), surname in zip(household.specs, surnames, strict=True):
            born = self._birth_date(age)
            given = (
                self.fake.first_name_male()
                if gender is Gender.MALE
                else self.fake.first_name_female()
            )
            person = Person(
                id=self._uuid(),
                id_number=self._id_number(region, born, gender),
                name=f"{surname}{given}",
                gender=gender,
                birth_date=born,
                age=age,
                relation=relation,
            )
            person.tags = self._tags(person, household)
            yield person

    def _surname(self) -> str:
        return self._surname_pool[int(self.rng.random() * len(self._surname_pool))]

    def _surnames(self, specs: list[Spec]) -> list[str]:
        """Children take the father's surname; the head's father shares the head's."""
        head, spouse = self._surname(), self._surname()
        head_is_male = specs[0][2] is Gender.MALE
        has_spouse = any(relation is _REL.SPOUSE for relation, _, _ in specs)
        paternal = head if head_is_male or not has_spouse else spouse
        by_relation = {_REL.HEAD: head, _REL.SPOUSE: spouse, _REL.CHILD: paternal}
        by_relation[_REL.GRANDCHILD] = paternal
        return [
            by_relation.get(relation) or (head if gender is Gender.MALE else self._surname())
            for relation, _, gender in specs
        ]

    def _birth_date(self, age: int) -> date:
        latest = add_years(self.as_of, -age)
        earliest = add_years(self.as_of, -age - 1) + timedelta(days=1)
        return self.records.between(earliest, latest)

    def _id_number(self, region: str, born: date, gender: Gender) -> str:
        """Sequence numbers count up per (region, birth date); odd for men, even for women."""
        counters = self._sequences.setdefault((region, born), [0, 0])
        parity = 1 if gender is Gender.MALE else 0
        sequence = 2 * counters[parity] + parity
        counters[parity] += 1
        return make_id_number(region=region, birth_date=born, sequence=sequence)

    def _tags(self, person: Person, household: _Household) -> set[ResidentTag]:
        chance = self.rng.random
        tags: set[ResidentTag] = set()
        if household.home.origin is not None:
            tags.add(ResidentTag.MIGRANT)
        if household.low_income:
            tags.add(ResidentTag.LOW_INCOME)
        if household.alone and person.age >= 70 and chance() < 0.75:
            tags.add(ResidentTag.ELDERLY_ALONE)
        if chance() < (0.04 if person.age >= 60 else 0.012):
            tags.add(ResidentTag.DISABLED)
        if person.age >= 25 and chance() < (0.035 if person.gender is Gender.MALE else 0.002):
            tags.add(ResidentTag.VETERAN)
        left_behind = person.relation is _REL.GRANDCHILD and household.parents_away
        if left_behind and person.age < 16 and chance() < 0.6:
            tags.add(ResidentTag.LEFT_BEHIND_CHILD)
        return tags

    def _resident_row(self, person: Person, home: Home) -> Row:
        has_phone = person.age >= 12 and self.rng.random() < 0.95
        return {
            "id": person.id,
            "id_number": person.id_number,
            "name": person.name,
            "gender": person.gender,
            "birth_date": person.birth_date,
            "phone": str(self.fake.phone_number()) if has_phone else None,
            "address": home.address,
            "household_id": home.id,
            "grid_code": home.site.code,
            "grid_path": home.site.path,
        }


def generate_population(
    district: District, residents: int, *, seed: int = 0, as_of: date = AS_OF
) -> Iterator[BuildingPopulation]:
    """Yield the population of every building grid of `district`, `residents` people in all."""
    if residents < 0:
        raise ValueError(f"residents must be zero or more, got {residents}")
    return PopulationGenerator(district, seed=seed, as_of=as_of).run(residents)
