"""Two people acting on one case: the second gets CONFLICT, and the case moves once."""

from __future__ import annotations

import asyncio

import pytest

from hub.errors import ConflictError, ErrorCode
from hub.governance import actions
from hub.governance.enums import CaseState
from hub.governance.permissions import Actor
from hub.storage.models import Case, CaseTrace
from tests.governance.conftest import BUILDING, Governance, actor


async def test_acting_on_a_version_someone_else_moved_on_is_a_conflict(gov: Governance) -> None:
    worker, colleague = actor("grid_worker", BUILDING), actor("grid_worker", BUILDING, name="b")
    seen = await gov.report(worker)  # both see version 1
    await gov.move("accept", worker, seen)

    with pytest.raises(ConflictError, match="is at version 2, not 1") as raised:
        await gov.move("accept", colleague, seen)

    assert raised.value.code is ErrorCode.CONFLICT
    assert raised.value.details["current_version"] == 2
    stored = await gov.case(seen.id)
    assert (stored.state, stored.version) == (CaseState.ACCEPTED, 2)


async def test_of_two_concurrent_movers_exactly_one_wins(gov: Governance) -> None:
    case = await gov.report(actor("grid_worker", BUILDING))
    workers = [actor("grid_worker", BUILDING, name=f"worker {n}") for n in range(2)]

    async def accept(who: Actor) -> Case | Exception:
        async with gov.sessionmaker() as session:
            try:
                async with session.begin():
                    return await actions.accept_case(
                        session,
                        actor=who,
                        case_id=case.id,
                        expected_version=1,
                        idempotency_key="tap",
                        clock=gov.clock,
                    )
            except ConflictError as error:
                return error

    outcomes = await asyncio.gather(*(accept(who) for who in workers))

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Case", "ConflictError"]
    assert await gov.count(CaseTrace) == 2
    assert (await gov.case(case.id)).version == 2
