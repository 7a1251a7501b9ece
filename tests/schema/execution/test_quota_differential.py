"""Harvest quotas and the resident-node bound on the compiled path, held to the standard one.

A caller with a harvest quota (a clerk, a department officer) runs on the compiled executor
like everyone else: its builders ask the quota per resident before a PII or sensitive field,
as the standard executor's guard does. Each query below runs on both executors, each with a
quota of its own loaded from the real quota store (same residents already read today), and
must answer the same JSON, errors and ledger, count the same residents into the store and
raise the same alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.records import AuditRecord
from hub.auth.caller import Caller
from hub.clock import local_today
from hub.crypto.store import field_keys
from hub.limits.quotas import QuotaStore
from hub.limits.runtime import CostLimits, RequestLimits
from hub.request_headers import Purpose
from hub.storage.models import HarvestRead
from hub.storage.session import RequestDatabase
from schema.build import build_schema
from schema.context import Context
from schema.execution.standard import StandardExecutor
from tests.conftest import Clients, World
from tests.schema.execution import differential
from tests.schema.execution.differential import answer
from tests.schema.execution.test_differential import (
    COMPILED,
    POLICY,
    ROLES,
    STANDARD,
    CountingExecutor,
    Drawn,
    Seeded,
    documents,
    seeded,
)

__all__ = ["seeded"]  # the fixture, shared with test_differential

_keys = count()
# Without document limits and static cost: only to reach the executors' own resident bound.
UNBOUNDED = (
    build_schema(executor=StandardExecutor, limits=None),
    build_schema(executor=CountingExecutor, limits=None),
)

PII_PAGE = "query($grid: ID!) { residents(grid: $grid) { edges { node { id name idNumber } } } }"
FLAGS = (
    'query {{ a: resident(id: "{}") {{ name police {{ flags {{ flagType }} }} }} '
    'b: resident(id: "{}") {{ name idNumber phone }} '
    'c: resident(id: "{}") {{ name health {{ chronicConditions {{ condition }} }} }} }}'
)


@dataclass
class Outcome:
    """What one execution answered and left behind in the quota store."""

    answer: dict[str, Any]
    read_today: set[str]
    alerts: list[AuditRecord] = field(default_factory=list)

    def compared(self) -> tuple[Any, ...]:
        return self.answer, self.read_today, len(self.alerts)


async def run(
    schema: Any,
    engine: AsyncEngine,
    drawn: Drawn,
    caller: Caller,
    *,
    quota: int | None,
    read_before: list[str],
    max_residents: int = 500,
    purpose: str | None = "核查",
) -> Outcome:
    """Execute under a quota of its own (a fresh client key, `read_before` already counted)."""
    key, today = f"client:quota-{next(_keys)}", local_today()
    store = QuotaStore(engine)
    if read_before:
        async with engine.begin() as connection:
            rows = [{"client_key": key, "day": today, "resident_id": r} for r in read_before]
            await connection.execute(insert(HarvestRead), rows)
    alerts: list[AuditRecord] = []

    async def alert(record: AuditRecord) -> None:
        alerts.append(record)

    limits = RequestLimits(
        cost=CostLimits(max_resident_nodes=max_residents),
        quota_limit=quota,
        quota_key=key,
        quotas=store,
        alerts=alert,
        today=lambda: today,
    )
    context = Context(
        database=RequestDatabase(engine),
        caller=caller,
        today=today,
        request_purpose=Purpose(purpose=purpose),
        fields=await field_keys(engine).ring(),
        limits=limits,
    )
    try:
        result = await schema.execute(
            drawn.query, variable_values=drawn.variables, context_value=context
        )
    finally:
        await context.database.close()
    return Outcome(answer(result, context.ledger), await _read(engine, key, today), alerts)


async def _read(engine: AsyncEngine, key: str, day: date) -> set[str]:
    query = select(HarvestRead.resident_id).where(
        HarvestRead.client_key == key, HarvestRead.day == day
    )
    async with engine.connect() as connection:
        return set((await connection.scalars(query)).all())


def _caller(role_name: str, grid_path: str | None = None, grid_code: str | None = None) -> Caller:
    role = POLICY.roles[role_name]
    return Caller(
        client_id=f"quota-{role_name}",
        roles=(role.name,),
        scopes=role.scopes,
        grid_code=grid_code,
        grid_path=grid_path,
    )


async def both(
    engine: AsyncEngine,
    drawn: Drawn,
    caller: Caller,
    *,
    schemas: tuple[Any, Any] = (STANDARD, COMPILED),
    **kwargs: Any,
) -> Outcome:
    """Both executors' outcomes, required identical; the compiled path must have answered."""
    planned = CountingExecutor.planned
    standard = await run(schemas[0], engine, drawn, caller, **kwargs)
    compiled = await run(schemas[1], engine, drawn, caller, **kwargs)
    assert CountingExecutor.planned == planned + 1  # not handed to the standard executor
    assert compiled.compared() == standard.compared()
    return compiled


def _codes(outcome: Outcome) -> list[str]:
    return [e["extensions"]["code"] for e in outcome.answer["errors"]]


@pytest.mark.parametrize(
    ("quota", "already", "served"),
    [
        (10, 0, 3),  # under the quota: everything served
        (2, 0, 2),  # crosses it mid-page: the third resident's idNumber is refused
        (2, 1, 1),  # one read before today (not on this page): one more fits
        (1, 1, 0),  # already at it: every idNumber refused
    ],
)
async def test_a_clerks_page_under_a_quota_answers_the_same_on_both_executors(
    seeded: Seeded, engine: AsyncEngine, quota: int, already: int, served: int
) -> None:
    drawn = Drawn(PII_PAGE, {"grid": "410105"})
    clerk = _caller("service_center_clerk")
    read_before = ["r-read-yesterday"][:already]

    outcome = await both(engine, drawn, clerk, quota=quota, read_before=read_before)

    nodes = [e["node"] for e in outcome.answer["data"]["residents"]["edges"]]
    assert len(nodes) == 3
    assert [n["idNumber"] is not None for n in nodes] == [True] * served + [False] * (3 - served)
    assert all(n["name"] for n in nodes)  # basic fields are served past the quota
    assert _codes(outcome) == ["QUOTA_EXCEEDED"] * (3 - served)
    allowed, denied, returned = outcome.answer["ledger"]
    assert ("Resident.idNumber" in allowed) == (served > 0)
    assert denied == [f"residents.edges.{n}.node.idNumber" for n in range(served, 3)]
    assert len(returned) == 3
    assert outcome.read_today == set(read_before) | {n["id"] for n in nodes[:served]}
    assert len(outcome.alerts) == (1 if served < 3 else 0)


async def test_pii_and_sensitive_fields_of_several_lookups_count_alike_on_both_executors(
    seeded: Seeded, engine: AsyncEngine
) -> None:
    first, second, third = seeded.resident_ids
    drawn = Drawn(FLAGS.format(first, second, third), {})
    everything = _caller("admin")  # the admin role holds no department scopes: use a union
    scopes = frozenset().union(*(POLICY.roles[name].scopes for name in ROLES))
    caller = Caller(client_id="quota-all", roles=everything.roles, scopes=scopes)

    outcome = await both(engine, drawn, caller, quota=2, read_before=[])

    data = outcome.answer["data"]
    assert data["b"]["idNumber"] is not None
    assert data["b"]["phone"] is not None
    assert data["a"]["police"]["flags"] is not None
    assert data["c"]["health"]["chronicConditions"] is None  # the third resident: over
    assert _codes(outcome) == ["QUOTA_EXCEEDED"]
    assert outcome.read_today == {first, second}


async def test_residents_past_the_node_bound_are_nulled_alike_on_both_executors(
    seeded: Seeded, engine: AsyncEngine
) -> None:
    # Without the static cost check (which would refuse these documents before they run),
    # the executors' own bound: residents past the second are nulled with its error.
    first, second, third = seeded.resident_ids
    lookups = Drawn(
        f'{{ a: resident(id: "{first}") {{ id }} b: resident(id: "{second}") {{ id }} '
        f'c: resident(id: "{third}") {{ id }} d: resident(id: "{first}") {{ name }} }}',
        {},
    )
    page = Drawn(PII_PAGE.replace("idNumber", ""), {"grid": "410105"})
    clerk = _caller("service_center_clerk")
    kwargs: dict[str, Any] = {"quota": None, "read_before": [], "max_residents": 2}

    over = await both(engine, lookups, clerk, schemas=UNBOUNDED, **kwargs)
    paged = await both(engine, page, clerk, schemas=UNBOUNDED, **kwargs)

    data = over.answer["data"]
    assert [data[k] is not None for k in "abcd"] == [True, True, False, True]  # d: seen
    [error] = over.answer["errors"]
    assert error["path"] == ["c"]
    assert error["extensions"]["maximumResidentNodes"] == 2
    assert paged.answer["data"] == {"residents": None}  # Resident! up to the nullable list
    assert [e["path"] for e in paged.answer["errors"]] == [["residents", "edges", 2, "node"]]
    assert len(paged.answer["ledger"][2]) == 2


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_generated_queries_under_quotas_answer_the_same_on_both_executors(
    seeded: Seeded, engine: AsyncEngine, data: st.DataObject
) -> None:
    drawn = data.draw(documents(seeded))
    role = data.draw(st.sampled_from(ROLES))
    grid = data.draw(st.sampled_from([None, "410105001", "410105002001001"]))
    caller = _caller(role, seeded.grids[grid] if grid else None, grid)
    quota = data.draw(st.sampled_from([0, 1, 2, 3]))
    read_before = data.draw(
        st.lists(st.sampled_from([*seeded.resident_ids, "r-other"]), max_size=3, unique=True)
    )
    purpose = data.draw(st.sampled_from(["入户走访", None]))

    planned = CountingExecutor.planned
    standard = await run(
        STANDARD, engine, drawn, caller, quota=quota, read_before=read_before, purpose=purpose
    )
    errors = standard.answer["errors"]
    assume(not [e for e in errors if "path" not in e and "QUERY_TOO_COMPLEX" in str(e)])
    compiled = await run(
        COMPILED, engine, drawn, caller, quota=quota, read_before=read_before, purpose=purpose
    )
    assert CountingExecutor.planned == planned + 1
    assert compiled.compared() == standard.compared()


async def test_a_clerks_lookup_through_the_hub_runs_on_the_compiled_path(
    clients: Clients, world: World
) -> None:
    grids = await world.tree()
    person = await world.resident(grids["410105001001001"])
    clerk = await clients.graphql("service_center_clerk", grid="410105")
    compiled_runs = len(differential.COMPILED_RUNS)

    result = await clerk(
        f'query Lookup {{ resident(id: "{person.id}") {{ id name idNumber phone }} }}'
    )

    assert "errors" not in result, result
    assert result["data"]["resident"]["idNumber"] == person.id_number
    # The clerk's quota applied and the compiled path answered (compared with the standard).
    assert differential.COMPILED_RUNS[compiled_runs:] == ["Lookup"]
