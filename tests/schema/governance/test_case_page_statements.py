"""A page of cases with their lists costs the same few statements however large the page."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from hub.vocabulary import Department
from tests.governance.conftest import BUILDING, NEIGHBOUR, Governance, actor
from tests.schema.governance.support import Staff
from tests.schema.test_batching import count_statements

PAGE = """
query Page($first: Int!) {
  cases(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id state version overdue allowedActions
      grid { code name } holdingGrid { code level }
      history { seq action toState actorRole late }
      assignments { kind department member { name post } }
      residents { id name tags grid { code } }
      households { number address }
    } }
  }
}
"""


async def many_cases(gov: Governance, count: int) -> None:
    dispatcher = actor("district_dispatcher")
    for index in range(count):
        grid = BUILDING if index % 2 else NEIGHBOUR
        worker = actor("grid_worker", grid)
        case = await gov.report(
            worker,
            grid,
            resident_ids=tuple(gov.residents[grid][:2]),
            household_ids=tuple(gov.households[grid][:1]),
        )
        case = await gov.move("accept", worker, case, post_member_ids=[gov.chiefs[grid]])
        if index % 5 == 0:
            case = await gov.escalated_to_district(actor("grid_worker", BUILDING))
            case = await gov.move("accept", dispatcher, case)
            await gov.move("assign", dispatcher, case, departments=[Department.HEALTH])


@pytest.mark.served_executor_only
async def test_a_page_of_cases_costs_the_same_statements_at_10_and_at_50(
    world_now: Governance, staff: Staff, app: Starlette
) -> None:
    await many_cases(world_now, 60)
    gql = await staff("dispatcher")
    await gql("{ me { clientId } }")  # warm: the revocation list is loaded once

    with count_statements(app) as small:
        ten = await gql(PAGE, {"first": 10})
    with count_statements(app) as large:
        fifty = await gql(PAGE, {"first": 50})

    assert "errors" not in ten, ten
    assert "errors" not in fifty, fifty
    edges = fifty["data"]["cases"]["edges"]
    assert len(edges) == 50
    assert fifty["data"]["cases"]["totalCount"] == 72  # 60 reported + 12 escalated stories
    assert all(edge["node"]["history"] for edge in edges)
    assert sum(1 for edge in edges if len(edge["node"]["residents"]) == 2) >= 25
    assert any(edge["node"]["assignments"] for edge in edges)
    assert len(small) == len(large), (small, large)
    # The page, its count, the grids, traces, assignments, resident ids and residents,
    # household ids and households, the residents' tags and their grids.
    assert len(large) <= 11, large
