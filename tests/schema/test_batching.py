"""DataLoaders keep the number of SQL statements flat however large the page is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from starlette.applications import Starlette

from hub.storage import direct
from tests.conftest import GraphQLClient, World
from tests.schema.test_queries import add_full_records

PAGE_360 = """
query Page($first: Int!) {
  residents(first: $first) {
    totalCount
    edges { node {
      id name age maskedIdNumber tags
      grid { code name } household { number }
      sources { source records }
      health { familyDoctorContracts { doctorName } vaccinations { vaccine } chronicConditions { condition } }
      socialSecurity { insuranceEnrollments { insuranceType } assistanceGrants { monthlyAmount } }
      education { enrollments { school grade } }
      police { householdRegistration { householdNumber } residencePermit { permitNumber } flags { flagType } }
    } }
  }
}
"""


@contextmanager
def count_statements(app: Starlette) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statement: str = args[2]
        if "audit_" not in statement:  # the audit trail's writes are measured by make bench
            statements.append(statement)

    def record_direct(statement: str) -> None:  # run straight on asyncpg (hub/storage/direct.py)
        record(None, None, statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    direct.OBSERVERS.append(record_direct)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
        direct.OBSERVERS.remove(record_direct)


@pytest.mark.served_executor_only
async def test_statement_count_does_not_grow_with_page_size(
    world: World, gql: GraphQLClient, app: Starlette
) -> None:
    grids = await world.tree()
    for index in range(100):
        building = grids["410105001001001" if index % 2 else "410105002001002"]
        await add_full_records(world, await world.resident(building))

    await gql("{ me { clientId } }")  # warm: the first request loads the revocation list
    with count_statements(app) as small:
        ten = await gql(PAGE_360, {"first": 10})
    with count_statements(app) as large:
        hundred = await gql(PAGE_360, {"first": 100})

    assert "errors" not in ten
    assert "errors" not in hundred
    assert len(ten["data"]["residents"]["edges"]) == 10
    assert len(hundred["data"]["residents"]["edges"]) == 100
    assert all(e["node"]["police"]["flags"] for e in hundred["data"]["residents"]["edges"])
    assert len(small) == len(large), (small, large)
    # The page, its count, the residents' grids, households and tags in one statement, their
    # sources, every record type in one statement: no token or revocation query (held in
    # memory), no transactions.
    assert len(large) <= 5, large
    # (`sources` reads the record tables too, never the sensitive flags)
    record_reads = [s for s in large if "health_vaccinations" in s and "police_person_flags" in s]
    assert len(record_reads) == 1, large


LOOKUP_FIELDS = "id name gender birthDate maskedIdNumber idNumber phone address grid { code }"


@pytest.mark.served_executor_only
async def test_a_lookup_by_id_or_id_number_is_one_select(
    world: World, gql: GraphQLClient, app: Starlette
) -> None:
    """The resident and its grid in one statement (the grid batch is primed with the grid
    read): statements run straight on asyncpg (PostgreSQL) are counted with SQLAlchemy's;
    the audit batch is measured by make bench (one statement)."""
    grids = await world.tree()
    person = await world.resident(grids["410105001001001"])
    await gql("{ me { clientId } }")  # warm: the first request loads the revocation list
    queries = (
        (f"query($id: ID!) {{ resident(id: $id) {{ {LOOKUP_FIELDS} }} }}", {"id": person.id}),
        (
            f"query($n: String!) {{ resident(idNumber: $n) {{ {LOOKUP_FIELDS} }} }}",
            {"n": person.id_number},
        ),
    )
    for query, variables in queries:
        for _ in range(2):  # the first compiles; the second runs what was compiled
            with count_statements(app) as statements:
                found = await gql(query, variables)
            assert "errors" not in found
            assert found["data"]["resident"]["id"] == person.id
            assert found["data"]["resident"]["grid"] == {"code": person.grid_code}
            assert len(statements) == 1, statements
            assert statements[0].lstrip().upper().startswith("SELECT"), statements


@pytest.mark.served_executor_only
async def test_a_lookups_grid_parent_is_still_loaded_by_its_batch(
    world: World, gql: GraphQLClient, app: Starlette
) -> None:
    grids = await world.tree()
    person = await world.resident(grids["410105001001001"])
    await gql("{ me { clientId } }")
    query = "query($id: ID!) { resident(id: $id) { id grid { code name parent { code } } } }"
    with count_statements(app) as statements:
        found = await gql(query, {"id": person.id})
    assert "errors" not in found
    building = grids["410105001001001"]
    assert found["data"]["resident"]["grid"] == {
        "code": building.code,
        "name": building.name,
        "parent": {"code": "410105001001"},
    }
    assert len(statements) == 2, statements  # the resident with its grid; the grid's parent
