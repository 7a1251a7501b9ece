"""Generated queries answer the same on both executors: data, errors and the access ledger.

Hypothesis draws a query over the schema — root fields with and without arguments, random
selections down to depth five, aliases, `__typename`, inline fragments and @skip/@include
on variables — and a caller: every shipped role, with and without a purpose, its grid
inside or outside the residents'. Each query runs on the standard executor and on the
compiled one, each with a context of its own; the two answers must be identical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import (
    ExecutionResult,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.caller import Caller
from hub.auth.policy import RowScope, load_policy
from hub.clock import local_today
from hub.crypto.store import field_keys
from hub.request_headers import Purpose
from hub.storage.models import Household, ResidentTagRow
from hub.storage.session import RequestDatabase
from hub.vocabulary import GridPost, MemberKind, ResidentTag
from schema.build import build_schema
from schema.context import Context
from schema.execution.compiled import CompiledExecutor
from schema.execution.plan import ObjectPlan
from schema.execution.standard import StandardExecutor
from tests.conftest import World
from tests.schema.execution.differential import answer
from tests.schema.test_queries import add_full_records


class CountingExecutor(CompiledExecutor):
    """The compiled executor, counting the operations it ran on a plan."""

    planned = 0

    async def _run(self, plan: ObjectPlan) -> ExecutionResult:
        CountingExecutor.planned += 1
        return await super()._run(plan)


COMPILED = build_schema(executor=CountingExecutor)
STANDARD = build_schema(executor=StandardExecutor)
GRAPHQL = COMPILED._schema
POLICY = load_policy()
ROLES = sorted(POLICY.roles)
# Fields a generated query never selects: arguments the generator cannot fill sensibly.
SKIPPED = {"Query.residentAccessReport", "Query._entities", "Query._service"}
MAX_DEPTH = 5


@dataclass
class Seeded:
    resident_ids: list[str]
    id_numbers: list[str]
    grids: dict[str, str]  # code -> path


@pytest.fixture
async def seeded(world: World) -> Seeded:
    grids = await world.tree()
    household = Household(
        id="h-1", number="户-0001", address="金水区经八路1号", grid_code="410105001001001"
    )
    await world.add(household)
    residents = []
    for index, code in enumerate(["410105001001001", "410105001001002", "410105002001001"]):
        resident = await world.resident(grids[code], household_id="h-1" if index == 0 else None)
        residents.append(resident)
        if index != 1:
            await add_full_records(world, resident)
    await world.add(
        ResidentTagRow(resident_id=residents[0].id, tag=ResidentTag.ELDERLY_ALONE),
        ResidentTagRow(resident_id=residents[0].id, tag=ResidentTag.VETERAN),
    )
    await world.member(
        grids["410105001001001"],
        name="王网格",
        post=GridPost.GRID_CHIEF,
        kind=MemberKind.COMMUNITY_WORKER,
        phone="13900000001",
    )
    return Seeded(
        [r.id for r in residents],
        [r.id_number for r in residents],
        {code: grid.path for code, grid in grids.items()},
    )


@dataclass(frozen=True)
class Drawn:
    query: str
    variables: dict[str, Any]


def _unwrap(type_: GraphQLOutputType) -> GraphQLOutputType:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


@st.composite
def selection_set(draw: st.DrawFn, type_: GraphQLObjectType, depth: int) -> str:
    names = sorted(name for name in type_.fields if f"{type_.name}.{name}" not in SKIPPED)
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=6, unique=True))
    parts = []
    for index, name in enumerate(chosen):
        inner = _unwrap(type_.fields[name].type)
        if isinstance(inner, GraphQLObjectType):
            if depth >= MAX_DEPTH:
                continue
            body = f"{name} {{ {draw(selection_set(inner, depth + 1))} }}"
        else:
            body = name
        if draw(st.integers(0, 7)) == 0:
            body = f"a{depth}_{index}: {body}"
        directive = draw(st.sampled_from(["", "", "", " @include(if: $flag)", " @skip(if: $flag)"]))
        if directive and " " in body and not body.startswith("a"):
            head, rest = body.split(" ", 1)
            body = f"{head}{directive} {rest}"
        elif directive and " " not in body:
            body = f"{body}{directive}"
        if draw(st.integers(0, 5)) == 0:
            body = f"... on {type_.name} {{ {body} }}"
        parts.append(body)
    if not parts or draw(st.integers(0, 4)) == 0:
        parts.append("__typename")
    return " ".join(parts)


ROOTS = [
    ("resident(id: $id)", "Resident"),
    ("resident(idNumber: $idNumber)", "Resident"),
    ("residents(first: 2)", "ResidentConnection"),
    ("residents(grid: $grid, first: 3)", "ResidentConnection"),
    ("grid(code: $grid)", "Grid"),
    ("grids(level: STREET)", "Grid"),
    ("me", "Me"),
    ("auditChainStatus", "AuditChainStatus"),
]


@st.composite
def documents(draw: st.DrawFn, seeded: Seeded) -> Drawn:
    roots = draw(st.lists(st.sampled_from(ROOTS), min_size=1, max_size=3, unique=True))
    fields = []
    for index, (root, type_name) in enumerate(roots):
        type_ = GRAPHQL.type_map[type_name]
        assert isinstance(type_, GraphQLObjectType)
        fields.append(f"r{index}: {root} {{ {draw(selection_set(type_, 1))} }}")
    body = " ".join(fields)
    candidates = {
        "id": ("ID", draw(st.sampled_from([*seeded.resident_ids, "r-nobody"]))),
        "idNumber": ("String", draw(st.sampled_from(seeded.id_numbers))),
        "grid": ("ID!", draw(st.sampled_from(sorted(seeded.grids)))),
        "flag": ("Boolean!", draw(st.booleans())),
    }
    used = {name: typed for name, typed in candidates.items() if re.search(rf"\${name}\b", body)}
    declared = ", ".join(f"${name}: {type_}" for name, (type_, _) in used.items())
    query = f"query Generated{f'({declared})' if declared else ''} {{ {body} }}"
    return Drawn(query, {name: value for name, (_, value) in used.items()})


@st.composite
def callers(draw: st.DrawFn, seeded: Seeded) -> tuple[Caller, str | None]:
    role = POLICY.roles[draw(st.sampled_from(ROLES))]
    grid_code = grid_path = None
    if role.row_scope is RowScope.GRID:
        grid_code = draw(st.sampled_from(["410105001", "410105001001", "410105002001001"]))
        grid_path = seeded.grids[grid_code]
    caller = Caller(
        client_id="generated",
        roles=(role.name,),
        scopes=role.scopes,
        grid_code=grid_code,
        grid_path=grid_path,
    )
    purpose = draw(st.sampled_from(["入户走访", None]))
    return caller, purpose


async def execute(
    schema: Any, engine: AsyncEngine, drawn: Drawn, caller: Caller, purpose: str | None
) -> dict[str, Any]:
    context = Context(
        database=RequestDatabase(engine),
        caller=caller,
        today=local_today(),
        request_purpose=Purpose(purpose=purpose),
        fields=await field_keys(engine).ring(),
    )
    try:
        result = await schema.execute(
            drawn.query, variable_values=drawn.variables, context_value=context
        )
    finally:
        await context.database.close()
    return answer(result, context.ledger)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_generated_queries_answer_the_same_on_both_executors(
    seeded: Seeded, engine: AsyncEngine, data: st.DataObject
) -> None:
    drawn = data.draw(documents(seeded))
    caller, purpose = data.draw(callers(seeded))
    planned = CountingExecutor.planned

    standard = await execute(STANDARD, engine, drawn, caller, purpose)
    compiled = await execute(COMPILED, engine, drawn, caller, purpose)

    too_complex = [
        e for e in standard["errors"] if "path" not in e and "QUERY_TOO_COMPLEX" in str(e)
    ]
    assume(not too_complex)  # over the alias or depth limits: drawn again
    assert all("path" in error for error in standard["errors"]), standard["errors"]  # valid
    assert CountingExecutor.planned == planned + 1  # the compiled path answered
    assert compiled == standard


async def test_a_page_with_refused_fields_answers_the_same_on_both_executors(
    seeded: Seeded, engine: AsyncEngine
) -> None:
    drawn = Drawn(
        "query($grid: ID!) { residents(grid: $grid) { edges { node { id name "
        "police { flags { flagType } } health { chronicConditions { condition } } } } } }",
        {"grid": "410105"},
    )
    officer = POLICY.roles["police_officer"]
    caller = Caller(client_id="c", roles=(officer.name,), scopes=officer.scopes)
    planned = CountingExecutor.planned

    compiled = await execute(COMPILED, engine, drawn, caller, "核查")
    standard = await execute(STANDARD, engine, drawn, caller, "核查")

    assert CountingExecutor.planned == planned + 1
    assert compiled == standard
    assert len(compiled["ledger"][2]) == 3  # three residents returned
    assert [e["path"][-1] for e in compiled["errors"]] == ["health"] * 3
