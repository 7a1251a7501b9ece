"""Visits, patrols and joint meetings: what they record, what they refuse, what they open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError, NotFoundError
from hub.governance import meetings, patrols, visits
from hub.governance.enums import CaseSource, CaseState, ParticipantKind
from hub.governance.meetings import Participant
from hub.storage.models import Case, JointMeetingCase, PatrolFinding, Visit, VisitResident
from tests.governance.conftest import BUILDING, COMMUNITY, OTHER_BUILDING, Governance, actor, draft

WORKER = actor("grid_worker", BUILDING)


async def test_a_visit_records_the_household_the_residents_met_and_its_civil_day(
    gov: Governance,
) -> None:
    household = gov.households[BUILDING][1]
    met = gov.residents[BUILDING][2:4]
    late_evening = datetime(2026, 8, 2, 17, 30, tzinfo=UTC)  # 01:30 on 3 August in China

    visit = await gov.run(
        lambda session: visits.record_visit(
            session,
            actor=WORKER,
            idempotency_key="v1",
            household_id=household,
            visited_at=late_evening,
            resident_ids=met,
            findings="老人独居，需助餐",
            visitor_name="王芳",
            follow_up=draft(),
            clock=gov.clock,
        )
    )

    assert (visit.grid_code, visit.visited_on, visit.visitor_name) == (
        BUILDING,
        date(2026, 8, 3),
        "王芳",
    )
    rows = await gov.run(
        lambda session: session.scalars(select(VisitResident.resident_id).order_by("resident_id"))
    )
    assert list(rows) == sorted(met)
    follow_up = await gov.case(visit.follow_up_case_id or "")
    assert (follow_up.source, follow_up.state, follow_up.grid_code) == (
        CaseSource.VISIT,
        CaseState.REPORTED,
        BUILDING,
    )


async def test_a_visit_in_the_future_or_without_a_time_zone_is_refused(gov: Governance) -> None:
    household = gov.households[BUILDING][0]

    def visit_at(moment: datetime) -> Callable[[AsyncSession], Awaitable[Visit]]:
        return lambda session: visits.record_visit(
            session,
            actor=WORKER,
            idempotency_key=gov.key(),
            household_id=household,
            visited_at=moment,
            clock=gov.clock,
        )

    with pytest.raises(BadInputError, match="lies in the future"):
        await gov.run(visit_at(gov.now + timedelta(hours=1)))
    with pytest.raises(BadInputError, match="needs a time zone"):
        await gov.run(visit_at(datetime(2026, 8, 1, 9, 0)))  # noqa: DTZ001 - the bad input


async def test_a_patrol_turns_each_finding_into_a_case_of_its_grid(gov: Governance) -> None:
    patrol = await gov.run(
        lambda session: patrols.record_patrol(
            session,
            actor=WORKER,
            idempotency_key="p1",
            grid_code=BUILDING,
            started_at=gov.now - timedelta(hours=1),
            ended_at=gov.now,
            route_notes="1-3号楼, 地下车库",
            findings=[draft(), draft(description="消防通道堵塞")],
            clock=gov.clock,
        )
    )

    assert patrol.day == date(2026, 8, 3)
    found = await gov.run(
        lambda session: session.scalars(
            select(Case.source).join(PatrolFinding, PatrolFinding.case_id == Case.id)
        )
    )
    assert list(found) == [CaseSource.PATROL, CaseSource.PATROL]


async def test_a_patrol_ends_after_it_starts_within_a_day(gov: Governance) -> None:
    with pytest.raises(BadInputError, match="ends after it starts"):
        await gov.run(
            lambda session: patrols.record_patrol(
                session,
                actor=WORKER,
                idempotency_key="p",
                grid_code=BUILDING,
                started_at=gov.now - timedelta(hours=30),
                ended_at=gov.now,
                clock=gov.clock,
            )
        )


async def test_a_joint_meeting_records_member_units_and_the_cases_it_settled(
    gov: Governance,
) -> None:
    community = actor("grid_worker", COMMUNITY)
    case = await gov.report(WORKER)
    units = [
        Participant(ParticipantKind.GRID, grid_code=COMMUNITY),
        Participant(ParticipantKind.GRID, grid_code=BUILDING),
        Participant(ParticipantKind.OUTSIDE_UNIT, unit_name="  某物业公司 "),
    ]

    meeting = await gov.run(
        lambda session: meetings.record_joint_meeting(
            session,
            actor=community,
            idempotency_key="m1",
            grid_code=COMMUNITY,
            held_at=gov.now,
            topic="楼道堆物",
            decisions="三日内清理",
            participants=units,
            settled_case_ids=[case.id],
            clock=gov.clock,
        )
    )

    members = await gov.run(
        lambda session: meetings.meeting_participants(session, meeting_id=meeting.id)
    )
    assert [(m.kind, m.grid_code, m.unit_name) for m in members] == [
        (ParticipantKind.GRID, COMMUNITY, None),
        (ParticipantKind.GRID, BUILDING, None),
        (ParticipantKind.OUTSIDE_UNIT, None, "某物业公司"),
    ]
    assert await gov.count(JointMeetingCase) == 1


async def test_a_meeting_needs_two_units_and_may_only_settle_cases_within_reach(
    gov: Governance,
) -> None:
    far_case = await gov.report(actor("grid_worker", OTHER_BUILDING), OTHER_BUILDING)
    lone = [Participant(ParticipantKind.GRID, grid_code=BUILDING)]
    pair = [*lone, Participant(ParticipantKind.DEPARTMENT)]

    async def record(units: list[Participant], settled: list[str]) -> object:
        return await gov.run(
            lambda session: meetings.record_joint_meeting(
                session,
                actor=WORKER,
                idempotency_key=gov.key(),
                grid_code=BUILDING,
                held_at=gov.now,
                topic="t",
                decisions="d",
                participants=units,
                settled_case_ids=settled,
                clock=gov.clock,
            )
        )

    with pytest.raises(BadInputError, match="2 to 50 member units"):
        await record(lone, [])
    with pytest.raises(BadInputError, match="DEPARTMENT participant needs its department"):
        await record(pair, [])
    outside = [*lone, Participant(ParticipantKind.OUTSIDE_UNIT, unit_name="派出所")]
    with pytest.raises(NotFoundError, match="within your reach"):
        await record(outside, [far_case.id])
