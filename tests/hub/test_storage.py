"""Storage: migrations up and down, model constraints, and grid subtree queries."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import local_today
from hub.crypto.store import field_keys
from hub.storage import migrations
from hub.storage.base import Base
from hub.storage.grids import in_subtree
from hub.storage.models import Grid, Resident, Vaccination
from hub.storage.residents import ResidentFilter, _unfiltered_page, find_residents, page_query
from hub.storage.session import RequestDatabase, create_engine
from tests.conftest import World


def _revisions(url: str) -> list[str]:
    script = ScriptDirectory.from_config(migrations.alembic_config(url))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


async def _current(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return await migrations.current_revision(engine)
    finally:
        await engine.dispose()


async def test_migrations_run_up_down_and_up_again(scratch_database_url: str) -> None:
    url = scratch_database_url
    await asyncio.to_thread(migrations.upgrade, url)
    assert await _current(url) == migrations.head_revision(url)

    await asyncio.to_thread(migrations.downgrade, url, "base")
    assert await _current(url) is None

    await asyncio.to_thread(migrations.upgrade, url)
    assert await _current(url) == migrations.head_revision(url)


async def test_migrated_database_matches_the_models_exactly(scratch_database_url: str) -> None:
    await asyncio.to_thread(migrations.upgrade, scratch_database_url)
    engine = create_engine(scratch_database_url)

    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    await engine.dispose()

    assert differences == []


async def test_upgrading_an_existing_database_keeps_its_data(scratch_database_url: str) -> None:
    url = scratch_database_url
    first = _revisions(url)[0]
    await asyncio.to_thread(migrations.upgrade, url, first)
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            insert(Grid).values(
                code="410105",
                name="金水区",
                level="DISTRICT",
                path="410105/",
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )

    await asyncio.to_thread(migrations.upgrade, url)

    async with engine.connect() as connection:
        names = (await connection.execute(select(Grid.name))).scalars().all()
    await engine.dispose()
    assert names == ["金水区"]


async def test_department_record_is_unique_per_source_and_source_record_id(world: World) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    values = {"vaccine": "乙肝疫苗", "dose_number": 1, "administered_on": date(2020, 1, 1)}
    await world.record(Vaccination, resident, source="health_api", source_record_id="V1", **values)

    with pytest.raises(IntegrityError):
        await world.record(
            Vaccination, resident, source="health_api", source_record_id="V1", **values
        )
    await world.record(Vaccination, resident, source="other", source_record_id="V1", **values)


# Bytes of the right and the wrong shape for sealed columns (a sealed ID number is 52 bytes).
SHAPES = {"sealed": bytes(52), "index": bytes(16), "short": bytes(3)}


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        pytest.param(
            "INSERT INTO grids (code, name, level, path, created_at) "
            "VALUES ('1', 'x', 'DISTRICT', 'no-slash', '2026-01-01')",
            "path must end with a slash",
            id="grid-path-without-slash",
        ),
        pytest.param(
            "INSERT INTO grids (code, name, level, path, created_at) "
            "VALUES ('1', 'x', 'PROVINCE', '1/', '2026-01-01')",
            "level outside the enum",
            id="unknown-grid-level",
        ),
        pytest.param(
            "INSERT INTO residents (id, id_number_encrypted, id_number_index, name, gender,"
            " birth_date, grid_code, grid_path, created_at, updated_at) VALUES ('r', :short,"
            " :index, 'x', 'MALE', '2000-01-01', '410105', '410105/', '2026-01-01', '2026-01-01')",
            "ID number shorter than 18 (sealed: shorter than 52 bytes)",
            id="short-id-number",
        ),
        pytest.param(
            "INSERT INTO residents (id, id_number_encrypted, id_number_index, name, gender,"
            " birth_date, grid_code, grid_path, created_at, updated_at) VALUES ('r', :sealed,"
            " :short, 'x', 'MALE', '2000-01-01', '410105', '410105/', '2026-01-01', '2026-01-01')",
            "blind index not 16 bytes",
            id="short-blind-index",
        ),
        pytest.param(
            "INSERT INTO residents (id, id_number_encrypted, id_number_index, name, gender,"
            " birth_date, grid_code, grid_path, created_at, updated_at) VALUES ('r', :sealed,"
            " :index, 'x', 'MALE', '2000-01-01', 'nowhere', 'nowhere/', '2026-01-01', '2026-01-01')",
            "grid that does not exist",
            id="unknown-grid",
        ),
    ],
)
async def test_database_constraints_refuse_invalid_rows(
    engine: AsyncEngine, statement: str, reason: str
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO grids (code, name, level, path, created_at) "
                "VALUES ('410105', '金水区', 'DISTRICT', '410105/', '2026-01-01')"
            )
        )

    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(text(statement), SHAPES)


async def test_subtree_query_does_not_confuse_codes_that_share_a_prefix(
    world: World, engine: AsyncEngine
) -> None:
    root = await world.grid("410105")
    street = await world.grid("410105001", parent=root)
    lookalike = await world.grid("4101050011", parent=root)  # starts with the street's code
    building = await world.grid("410105001001001", parent=street)
    inside = await world.resident(building)
    await world.resident(lookalike)

    async with engine.connect() as connection:
        found = (
            (
                await connection.execute(
                    select(Resident.id).where(in_subtree(Resident.grid_path, street.path))
                )
            )
            .scalars()
            .all()
        )

    assert found == [inside.id]


async def test_subtree_query_uses_the_path_index(engine: AsyncEngine, is_postgres: bool) -> None:
    query = select(Resident.id).where(in_subtree(Resident.grid_path, "410105/410105001/"))
    compiled = query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
    async with engine.connect() as connection:
        if is_postgres:
            await connection.execute(text("SET enable_seqscan = off"))
            plan = (await connection.execute(text(f"EXPLAIN {compiled}"))).scalars().all()
        else:
            rows = await connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            plan = [row[-1] for row in rows]

    assert any("ix_residents_grid_path" in line for line in plan), plan


PAGE_WITHIN = "410105/410105001/"
PAGE_AFTER = ("410105/410105001/410105001001/410105001001001/", "r-000050")


@pytest.mark.parametrize("form", ["page_query", "built once"])
async def test_a_page_of_a_subtree_walks_the_path_index_without_sorting(
    engine: AsyncEngine, is_postgres: bool, form: str
) -> None:
    """`page_query` (what a page with criteria runs, here without any) and the statement an
    unfiltered page runs, built once with its values as parameters."""
    if form == "page_query":
        query = page_query(
            criteria=ResidentFilter(),
            within_path=PAGE_WITHIN,
            limit=101,
            after=PAGE_AFTER,
            today=local_today(),
        )
    else:
        query = _unfiltered_page(True, True).params(
            within_lower=PAGE_WITHIN,
            within_upper="410105/4101050010",
            after_path=PAGE_AFTER[0],
            after_id=PAGE_AFTER[1],
            limit=101,
        )
    compiled = query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
    async with engine.connect() as connection:
        if is_postgres:
            # On a test-sized table the planner may prefer a bitmap scan and a sort of a few
            # rows; with those and sorting discouraged, a Sort remains in the plan only if the
            # index cannot give the page's order.
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                await connection.execute(text(f"SET {setting} = off"))
            plan = (await connection.execute(text(f"EXPLAIN {compiled}"))).scalars().all()
        else:
            rows = await connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            plan = [row[-1] for row in rows]

    assert any("ix_residents_grid_path_id" in line for line in plan), plan
    assert not any("Sort" in line or "TEMP B-TREE" in line for line in plan), plan


async def test_an_unfiltered_page_reads_what_the_page_query_reads(
    engine: AsyncEngine, world: World
) -> None:
    """find_residents runs its own statement for a page without criteria: the same rows, in
    the same order, as `page_query`, within a subtree or not, after a position or not."""
    grids = await world.tree()
    for building in ("410105001001001", "410105001001002", "410105002001001"):
        for _ in range(4):
            await world.resident(grids[building])
    ring = await field_keys(engine).ring()
    database = RequestDatabase(engine)
    within_paths = (None, grids["410105001"].path, grids["410105002001001"].path)
    try:
        async with database.connect() as connection:
            everyone = list(
                await connection.execute(
                    page_query(
                        criteria=ResidentFilter(),
                        within_path=None,
                        limit=100,
                        after=None,
                        today=local_today(),
                    )
                )
            )
            afters = (None, (everyone[3].grid_path, everyone[3].id))
            for within_path in within_paths:
                for after in afters:
                    for limit in (1, 5, 100):
                        expected = await connection.execute(
                            page_query(
                                criteria=ResidentFilter(),
                                within_path=within_path,
                                limit=limit,
                                after=after,
                                today=local_today(),
                            )
                        )
                        found = await find_residents(
                            connection,
                            criteria=ResidentFilter(),
                            within_path=within_path,
                            limit=limit,
                            after=after,
                            today=local_today(),
                            fields=ring,
                        )
                        assert [r.id for r in found] == [r.id for r in expected]
    finally:
        await database.close()
    assert len(everyone) == 12


async def test_the_servers_connections_plan_without_parallel_workers_or_disk_page_costs(
    database_url: str, is_postgres: bool
) -> None:
    """A serving engine (given its pool size); a command's engine keeps the server's defaults."""
    if not is_postgres:
        pytest.skip("PostgreSQL settings")
    served, command = create_engine(database_url, pool_size=2), create_engine(database_url)
    try:
        assert await _setting(served, "max_parallel_workers_per_gather") == "0"
        assert await _setting(served, "random_page_cost") == "1.1"
        assert await _setting(command, "max_parallel_workers_per_gather") != "0"  # default 2
    finally:
        await served.dispose()
        await command.dispose()


async def _setting(engine: AsyncEngine, name: str) -> str:
    async with engine.connect() as connection:
        return str(await connection.scalar(text(f"SHOW {name}")))
