"""The synthetic district behind `hub seed`: grid tree, population realism, determinism, seeding."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from hub.clock import age_on
from hub.demo.district import SCALES, build_district
from hub.demo.population import AS_OF, TABLE_ORDER, BuildingPopulation, generate_population
from hub.demo.records import school_stage
from hub.demo.seed import SeedError, seed_district
from hub.identity import birth_date_of, gender_of, validate_id_number
from hub.storage.models import (
    DEPARTMENT_RECORD_MODELS,
    Grid,
    GridMember,
    Household,
    HouseholdRegistration,
    ResidencePermit,
    Resident,
    ResidentTagRow,
    SchoolEnrollment,
)
from hub.vocabulary import GridLevel, GridPost, ResidentTag, SchoolStage
from tests.conftest import stored_residents

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.demo.district import District
    from hub.demo.records import Row
    from hub.storage.base import Base

SEED = 7
RESIDENTS = 400
RESIDENT_COLUMNS = ("id", "id_number", "name", "gender", "birth_date", "household_id", "grid_code")
RECORD_COLUMNS = ("source", "source_record_id", "resident_id", "source_updated_at")


@pytest.fixture(scope="module")
def small() -> District:
    return build_district("small", seed=SEED)


@pytest.fixture(scope="module")
def jinshui() -> District:
    return build_district("jinshui", seed=SEED)


@pytest.fixture(scope="module")
def population(small: District) -> list[BuildingPopulation]:
    return list(generate_population(small, RESIDENTS, seed=SEED))


def rows_of(population: list[BuildingPopulation], model: type[Base]) -> list[Row]:
    return [row for building in population for row in building.rows[model]]


def digest(population: list[BuildingPopulation]) -> str:
    hasher = hashlib.sha256()
    for model in TABLE_ORDER:
        for row in rows_of(population, model):
            hasher.update(repr(sorted(row.items())).encode())
    return hasher.hexdigest()


def birth_date(row: Row) -> date:
    value = row["birth_date"]
    assert isinstance(value, date)
    return value


def residents_by_id(population: list[BuildingPopulation]) -> dict[object, Row]:
    return {row["id"]: row for row in rows_of(population, Resident)}


# --- grid tree ----------------------------------------------------------------------------


@pytest.mark.parametrize("scale", ["small", "jinshui"])
def test_scale_has_the_expected_number_of_streets_communities_and_buildings(
    scale: str, small: District, jinshui: District
) -> None:
    district = small if scale == "small" else jinshui
    levels = Counter(grid.level for grid in district.grids)
    shape = SCALES[scale]
    assert levels[GridLevel.DISTRICT] == 1
    assert levels[GridLevel.STREET] == shape.streets
    assert levels[GridLevel.COMMUNITY] == shape.communities
    assert levels[GridLevel.BUILDING] == shape.buildings == len(district.buildings)


def test_jinshui_is_9_streets_107_communities_and_7679_building_grids(jinshui: District) -> None:
    levels = Counter(grid.level for grid in jinshui.grids)
    assert (levels[GridLevel.STREET], levels[GridLevel.COMMUNITY]) == (9, 107)
    assert levels[GridLevel.BUILDING] == 7679


def test_codes_nest_and_paths_spell_the_ancestry_with_a_trailing_slash(jinshui: District) -> None:
    by_code = {grid.code: grid for grid in jinshui.grids}
    lengths = {GridLevel.DISTRICT: 6, GridLevel.STREET: 9, GridLevel.COMMUNITY: 12}
    for grid in jinshui.grids:
        assert len(grid.code) == lengths.get(grid.level, 15)
        if grid.parent_code is None:
            assert grid.path == "410105/"
            continue
        parent = by_code[grid.parent_code]
        assert grid.code.startswith(parent.code)
        assert grid.path == f"{parent.path}{grid.code}/"
    assert len({grid.path for grid in jinshui.grids}) == len(jinshui.grids)


def test_grids_are_listed_parents_first(jinshui: District) -> None:
    seen: set[str] = set()
    for grid in jinshui.grids:
        assert grid.parent_code is None or grid.parent_code in seen
        seen.add(grid.code)


def test_every_grid_has_a_grid_chief_and_upper_grids_have_all_six_posts(
    small: District, jinshui: District
) -> None:
    for district in (small, jinshui):
        posts: dict[object, list[object]] = defaultdict(list)
        for member in district.members:
            posts[member["grid_code"]].append(member["post"])
        for grid in district.grids:
            board = posts[grid.code]
            assert board.count(GridPost.GRID_CHIEF) == 1
            if grid.level is GridLevel.BUILDING:
                assert 2 <= len(board) <= 4
            else:
                assert Counter(board) == Counter(GridPost)


def test_members_have_names_and_eleven_digit_mobile_numbers(small: District) -> None:
    for member in small.members:
        phone = str(member["phone"])
        assert member["name"]
        assert re.fullmatch(r"1[3-9][0-9]{9}", phone)


# --- population ---------------------------------------------------------------------------


def test_the_same_seed_generates_identical_rows_and_another_seed_does_not(
    small: District, population: list[BuildingPopulation]
) -> None:
    again = list(generate_population(small, RESIDENTS, seed=SEED))
    other = list(generate_population(small, RESIDENTS, seed=SEED + 1))
    assert digest(again) == digest(population)
    assert digest(other) != digest(population)


def test_resident_total_is_exact_and_households_hold_one_to_five(
    population: list[BuildingPopulation], jinshui: District
) -> None:
    assert sum(building.residents for building in population) == RESIDENTS
    sizes = Counter(row["household_id"] for row in rows_of(population, Resident))
    assert set(sizes.values()) <= {1, 2, 3, 4, 5}
    assert len(sizes) == len(rows_of(population, Household))
    sparse = generate_population(jinshui, 300, seed=SEED)
    assert sum(building.residents for building in sparse) == 300


def test_every_id_number_validates_and_agrees_with_birth_date_and_gender(
    population: list[BuildingPopulation],
) -> None:
    residents = rows_of(population, Resident)
    for row in residents:
        number = str(row["id_number"])
        validate_id_number(number)
        assert birth_date_of(number) == row["birth_date"]
        assert gender_of(number) == row["gender"]
    assert len({row["id_number"] for row in residents}) == len(residents)


def test_residents_live_in_their_building_grid_at_their_household_address(
    population: list[BuildingPopulation],
) -> None:
    for building in population:
        addresses = {row["id"]: row["address"] for row in building.rows[Household]}
        for row in building.rows[Resident]:
            assert row["grid_code"] == building.building.code
            assert row["grid_path"] == building.building.path
            assert row["address"] == addresses[row["household_id"]]
            assert "号楼" in str(row["address"]) or "自然村" in str(row["address"])


def test_school_age_children_are_enrolled_in_the_stage_and_grade_for_their_age(
    population: list[BuildingPopulation],
) -> None:
    residents = residents_by_id(population)
    enrollments = rows_of(population, SchoolEnrollment)
    enrolled = {row["resident_id"]: row for row in enrollments}
    for row in enrollments:
        age = age_on(birth_date(residents[row["resident_id"]]), AS_OF)
        expected = school_stage(age)
        assert expected is not None
        stage, grade = expected
        assert row["grade"] == grade
        if stage is SchoolStage.SENIOR_SECONDARY:
            assert row["stage"] in (SchoolStage.SENIOR_SECONDARY, SchoolStage.VOCATIONAL)
        else:
            assert row["stage"] is stage
    compulsory = [
        resident_id
        for resident_id, row in residents.items()
        if 6 <= age_on(birth_date(row), AS_OF) <= 14
    ]
    assert compulsory
    assert all(resident_id in enrolled for resident_id in compulsory)


def test_migrants_hold_residence_permits_and_no_household_registration(
    population: list[BuildingPopulation],
) -> None:
    migrants = {
        row["resident_id"]
        for row in rows_of(population, ResidentTagRow)
        if row["tag"] is ResidentTag.MIGRANT
    }
    registered = {row["resident_id"] for row in rows_of(population, HouseholdRegistration)}
    permitted = {row["resident_id"] for row in rows_of(population, ResidencePermit)}
    locals_ = set(residents_by_id(population)) - migrants
    assert migrants
    assert permitted == migrants
    assert registered == locals_
    for row in rows_of(population, Resident):
        assert (row["id"] in migrants) == (not str(row["id_number"]).startswith("410105"))


def test_elderly_alone_are_seventy_or_older_and_live_alone(
    population: list[BuildingPopulation],
) -> None:
    residents = residents_by_id(population)
    sizes = Counter(row["household_id"] for row in residents.values())
    for row in rows_of(population, ResidentTagRow):
        if row["tag"] is ResidentTag.ELDERLY_ALONE:
            resident = residents[row["resident_id"]]
            assert age_on(birth_date(resident), AS_OF) >= 70
            assert sizes[resident["household_id"]] == 1


def test_source_record_ids_are_unique_per_source_and_stamps_are_aware_utc(
    population: list[BuildingPopulation],
) -> None:
    seen: dict[object, set[object]] = defaultdict(set)
    residents = residents_by_id(population)
    for model in DEPARTMENT_RECORD_MODELS:
        for row in rows_of(population, model):
            assert row["source_record_id"] not in seen[row["source"]]
            seen[row["source"]].add(row["source_record_id"])
            stamp = row["source_updated_at"]
            assert isinstance(stamp, datetime)
            assert stamp.tzinfo is UTC
            assert row["resident_id"] in residents
    assert set(seen) == {"health_api", "social_db", "education_files", "police_api"}


def test_population_is_generated_lazily_building_by_building(small: District) -> None:
    stream = generate_population(small, 100_000, seed=SEED)
    first = next(iter(stream))
    assert first.building == small.buildings[0]
    assert 0 < first.residents < 100_000


# --- seeding ------------------------------------------------------------------------------


async def _count(engine: AsyncEngine, model: type[Base]) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(model)) or 0)


async def _db_rows(
    engine: AsyncEngine, model: type[Base], columns: tuple[str, ...]
) -> set[tuple[object, ...]]:
    if model is Resident:  # as readers see them: ID and phone numbers opened
        opened = (await stored_residents(engine)).values()
        return {tuple(getattr(resident, name) for name in columns) for resident in opened}
    table = model.__table__
    async with engine.connect() as connection:
        result = await connection.execute(select(*(table.c[name] for name in columns)))
        return {tuple(row) for row in result}


def _generated_rows(
    population: list[BuildingPopulation], model: type[Base], columns: tuple[str, ...]
) -> set[tuple[object, ...]]:
    return {tuple(row[name] for name in columns) for row in rows_of(population, model)}


async def test_seeding_writes_exactly_what_the_generator_yields(
    engine: AsyncEngine, small: District, population: list[BuildingPopulation]
) -> None:
    progress: list[tuple[int, int]] = []
    summary = await seed_district(
        engine,
        scale="small",
        residents=RESIDENTS,
        seed=SEED,
        batch_size=500,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert summary.residents == RESIDENTS
    assert await _count(engine, Grid) == summary.grids == len(small.grids)
    assert await _count(engine, GridMember) == len(small.members)
    for model in TABLE_ORDER:
        expected = len(rows_of(population, model))
        assert await _count(engine, model) == summary.counts.get(model.__tablename__, 0) == expected
    assert await _db_rows(engine, Resident, RESIDENT_COLUMNS) == _generated_rows(
        population, Resident, RESIDENT_COLUMNS
    )
    for model in DEPARTMENT_RECORD_MODELS:
        stored = await _db_rows(engine, model, RECORD_COLUMNS)
        assert stored == _generated_rows(population, model, RECORD_COLUMNS)
    assert len(progress) > 1
    assert progress[-1] == (RESIDENTS, RESIDENTS)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


async def test_seeding_a_database_that_already_holds_a_district_raises_seed_error(
    engine: AsyncEngine,
) -> None:
    await seed_district(engine, residents=20, seed=SEED)
    with pytest.raises(SeedError, match="already holds a district"):
        await seed_district(engine, residents=20, seed=SEED)
    assert await _count(engine, Resident) == 20
