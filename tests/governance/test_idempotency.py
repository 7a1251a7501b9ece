"""A retried mutation returns the first call's result and creates nothing; keys are per caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError, ConflictError, ErrorCode
from hub.governance import actions, cases, idempotency, meetings, patrols, visits
from hub.governance.enums import CaseState, ParticipantKind
from hub.governance.meetings import Participant
from hub.governance.permissions import Actor
from hub.storage.models import (
    Case,
    CaseTrace,
    IdempotencyKey,
    JointMeeting,
    JointMeetingParticipant,
    Patrol,
    PatrolFinding,
    Visit,
    VisitResident,
)
from hub.vocabulary import Department
from tests.governance.conftest import BUILDING, Governance, actor, draft

WORKER = actor("grid_worker", BUILDING)


async def test_a_retried_report_returns_the_same_case_and_creates_nothing(gov: Governance) -> None:
    async def report(session: AsyncSession) -> Case:
        return await cases.report_case(
            session,
            actor=WORKER,
            idempotency_key="phone-1",
            grid_code=BUILDING,
            draft=draft(),
            clock=gov.clock,
        )

    first = await gov.run(report)
    gov.tick(minutes=3)  # the phone retries after a timeout
    second = await gov.run(report)

    assert second.id == first.id
    assert (await gov.count(Case), await gov.count(CaseTrace)) == (1, 1)


async def test_a_retried_move_returns_the_case_and_moves_it_once(gov: Governance) -> None:
    case = await gov.report(WORKER)

    async def accept(session: AsyncSession) -> Case:
        return await actions.accept_case(
            session,
            actor=WORKER,
            case_id=case.id,
            expected_version=1,
            idempotency_key="accept-1",
            clock=gov.clock,
        )

    first = await gov.run(accept)
    retried = await gov.run(accept)  # its expected version is stale now: the key answers first

    assert (first.state, retried.state, retried.version) == (CaseState.ACCEPTED,) * 2 + (2,)
    assert await gov.count(CaseTrace) == 2


async def test_a_key_reused_for_another_request_is_refused(gov: Governance) -> None:
    await gov.run(
        lambda session: cases.report_case(
            session,
            actor=WORKER,
            idempotency_key="k",
            grid_code=BUILDING,
            draft=draft(),
            clock=gov.clock,
        )
    )

    with pytest.raises(BadInputError, match="already used for another reportCase") as raised:
        await gov.run(
            lambda session: cases.report_case(
                session,
                actor=WORKER,
                idempotency_key="k",
                grid_code=BUILDING,
                draft=draft(description="另一件事"),
                clock=gov.clock,
            )
        )

    assert raised.value.code is ErrorCode.BAD_USER_INPUT
    assert await gov.count(Case) == 1


async def test_keys_belong_to_their_caller(gov: Governance) -> None:
    other = actor("grid_worker", BUILDING, name="another phone")

    def report_as(who: Actor) -> Callable[[AsyncSession], Awaitable[Case]]:
        return lambda session: cases.report_case(
            session,
            actor=who,
            idempotency_key="same",
            grid_code=BUILDING,
            draft=draft(),
            clock=gov.clock,
        )

    for who in (WORKER, other):
        await gov.run(report_as(who))

    assert await gov.count(Case) == 2


async def test_a_failed_first_call_leaves_the_key_free_for_its_retry(gov: Governance) -> None:
    case = await gov.report(WORKER)
    stale = await gov.move("accept", WORKER, case)

    async def resolve(session: AsyncSession, version: int) -> Case:
        return await actions.resolve_case(
            session,
            actor=WORKER,
            case_id=case.id,
            expected_version=version,
            idempotency_key="resolve-1",
            clock=gov.clock,
        )

    with pytest.raises(ConflictError):
        await gov.run(lambda session: resolve(session, 1))
    resolved = await gov.run(lambda session: resolve(session, stale.version))

    assert resolved.state is CaseState.RESOLVED


@pytest.mark.parametrize("key", ["", "x" * 129, "tab\tkey"], ids=["empty", "long", "control"])
async def test_an_unusable_key_is_refused(gov: Governance, key: str) -> None:
    with pytest.raises(BadInputError, match="idempotency key is 1 to 128 printable"):
        await gov.run(
            lambda session: cases.report_case(
                session,
                actor=WORKER,
                idempotency_key=key,
                grid_code=BUILDING,
                draft=draft(),
                clock=gov.clock,
            )
        )


async def test_retried_visits_patrols_and_meetings_create_nothing(gov: Governance) -> None:
    household = gov.households[BUILDING][0]
    met = gov.residents[BUILDING][0]
    case = await gov.report(WORKER)

    async def record(session: AsyncSession) -> tuple[str, str, str]:
        visit = await visits.record_visit(
            session,
            actor=WORKER,
            idempotency_key="v",
            household_id=household,
            visited_at=gov.now - timedelta(hours=1),
            resident_ids=[met],
            findings="独居老人",
            follow_up=draft(),
            clock=gov.clock,
        )
        patrol = await patrols.record_patrol(
            session,
            actor=WORKER,
            idempotency_key="p",
            grid_code=BUILDING,
            started_at=gov.now - timedelta(hours=2),
            ended_at=gov.now - timedelta(hours=1),
            findings=[draft()],
            clock=gov.clock,
        )
        meeting = await meetings.record_joint_meeting(
            session,
            actor=WORKER,
            idempotency_key="m",
            grid_code=BUILDING,
            held_at=gov.now - timedelta(hours=1),
            topic="电动车充电桩",
            decisions="物业加装",
            participants=[
                Participant(ParticipantKind.GRID, grid_code=BUILDING),
                Participant(ParticipantKind.DEPARTMENT, department=Department.POLICE),
                Participant(ParticipantKind.OUTSIDE_UNIT, unit_name="某物业公司"),
            ],
            settled_case_ids=[case.id],
            clock=gov.clock,
        )
        return visit.id, patrol.id, meeting.id

    first = await gov.run(record)
    again = await gov.run(record)

    assert again == first
    counts = [
        await gov.count(model)
        for model in (Visit, VisitResident, Patrol, PatrolFinding, JointMeeting, Case)
    ]
    assert counts == [1, 1, 1, 1, 1, 3]  # the report, the visit's follow-up, the finding
    assert await gov.count(JointMeetingParticipant) == 3
    assert await gov.count(IdempotencyKey) == 4


async def test_old_keys_can_be_pruned(gov: Governance) -> None:
    await gov.report(WORKER)
    gov.tick(days=8)

    removed = await gov.run(
        lambda session: idempotency.prune(session, older_than=gov.now - timedelta(days=7))
    )

    assert (removed, await gov.count(IdempotencyKey)) == (1, 0)
