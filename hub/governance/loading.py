"""Batch reads for the GraphQL level loads: one statement answers every key of a level.

Connection first, keys second; each returns key → rows (lists in a stable order, `[]` for a
key without any). Cases are confined to `within_path` (the caller's grid subtree, None: the
district) as a second line of defence: the root fields decide row scope with
`permissions`, and only objects the caller could see lead here.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.crypto.columns import MEMBER_PHONE
from hub.crypto.ring import KeyRing
from hub.storage.grids import in_subtree
from hub.storage.keys import among
from hub.storage.models import (
    Case,
    CaseAssignment,
    CaseHousehold,
    CaseResident,
    CaseTrace,
    GridMember,
    JointMeetingCase,
    JointMeetingParticipant,
    PatrolFinding,
    VisitResident,
)

CASES = Case.__table__


def _grouped(keys: Sequence[str], rows: Any, key: str) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {k: [] for k in keys}
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


def _scoped(query: Select[Any], within_path: str | None) -> Select[Any]:
    return query if within_path is None else query.where(in_subtree(Case.grid_path, within_path))


async def cases_by_id(
    connection: AsyncConnection, ids: Sequence[str], *, within_path: str | None
) -> dict[str, Row[Any]]:
    query = _scoped(select(CASES).where(among(connection, Case.id, ids)), within_path)
    return {row.id: row for row in await connection.execute(query)}


async def traces_by_case(
    connection: AsyncConnection, case_ids: Sequence[str]
) -> dict[str, list[Row[Any]]]:
    query = (
        select(CaseTrace.__table__)
        .where(among(connection, CaseTrace.case_id, case_ids))
        .order_by(CaseTrace.case_id, CaseTrace.seq)
    )
    return _grouped(case_ids, await connection.execute(query), "case_id")


async def assignments_by_case(
    connection: AsyncConnection, case_ids: Sequence[str], *, fields: KeyRing
) -> dict[str, list[Any]]:
    """Assignments with the board member's name, post, kind and phone (member_* attributes;
    the phone opened, as it is stored sealed)."""
    query = (
        select(
            CaseAssignment.__table__,
            GridMember.name.label("member_name"),
            GridMember.post.label("member_post"),
            GridMember.kind.label("member_kind"),
            GridMember.phone_encrypted.label("member_phone_sealed"),
        )
        .outerjoin(GridMember, GridMember.id == CaseAssignment.member_id)
        .where(among(connection, CaseAssignment.case_id, case_ids))
        .order_by(CaseAssignment.case_id, CaseAssignment.trace_seq, CaseAssignment.id)
    )
    rows = [
        SimpleNamespace(
            **row._asdict(),
            member_phone=fields.open_optional(MEMBER_PHONE, row.member_phone_sealed),
        )
        for row in await connection.execute(query)
    ]
    return _grouped(case_ids, rows, "case_id")


async def resident_ids_by_case(
    connection: AsyncConnection, case_ids: Sequence[str]
) -> dict[str, list[str]]:
    query = (
        select(CaseResident.case_id, CaseResident.resident_id)
        .where(among(connection, CaseResident.case_id, case_ids))
        .order_by(CaseResident.case_id, CaseResident.resident_id)
    )
    found: dict[str, list[str]] = {k: [] for k in case_ids}
    for case_id, resident_id in await connection.execute(query):
        found[case_id].append(resident_id)
    return found


async def household_ids_by_case(
    connection: AsyncConnection, case_ids: Sequence[str]
) -> dict[str, list[str]]:
    query = (
        select(CaseHousehold.case_id, CaseHousehold.household_id)
        .where(among(connection, CaseHousehold.case_id, case_ids))
        .order_by(CaseHousehold.case_id, CaseHousehold.household_id)
    )
    found: dict[str, list[str]] = {k: [] for k in case_ids}
    for case_id, household_id in await connection.execute(query):
        found[case_id].append(household_id)
    return found


async def resident_ids_by_visit(
    connection: AsyncConnection, visit_ids: Sequence[str]
) -> dict[str, list[str]]:
    query = (
        select(VisitResident.visit_id, VisitResident.resident_id)
        .where(among(connection, VisitResident.visit_id, visit_ids))
        .order_by(VisitResident.visit_id, VisitResident.resident_id)
    )
    found: dict[str, list[str]] = {k: [] for k in visit_ids}
    for visit_id, resident_id in await connection.execute(query):
        found[visit_id].append(resident_id)
    return found


async def findings_by_patrol(
    connection: AsyncConnection, patrol_ids: Sequence[str], *, within_path: str | None
) -> dict[str, list[Row[Any]]]:
    """The cases each patrol found, oldest first."""
    query = (
        select(CASES, PatrolFinding.patrol_id)
        .join(PatrolFinding, PatrolFinding.case_id == Case.id)
        .where(among(connection, PatrolFinding.patrol_id, patrol_ids))
        .order_by(PatrolFinding.patrol_id, Case.reported_at, Case.id)
    )
    return _grouped(patrol_ids, await connection.execute(_scoped(query, within_path)), "patrol_id")


async def settled_by_meeting(
    connection: AsyncConnection, meeting_ids: Sequence[str], *, within_path: str | None
) -> dict[str, list[Row[Any]]]:
    """The cases each joint meeting settled, oldest first."""
    query = (
        select(CASES, JointMeetingCase.meeting_id)
        .join(JointMeetingCase, JointMeetingCase.case_id == Case.id)
        .where(among(connection, JointMeetingCase.meeting_id, meeting_ids))
        .order_by(JointMeetingCase.meeting_id, Case.reported_at, Case.id)
    )
    rows = await connection.execute(_scoped(query, within_path))
    return _grouped(meeting_ids, rows, "meeting_id")


async def participants_by_meeting(
    connection: AsyncConnection, meeting_ids: Sequence[str]
) -> dict[str, list[Row[Any]]]:
    query = (
        select(JointMeetingParticipant.__table__)
        .where(among(connection, JointMeetingParticipant.meeting_id, meeting_ids))
        .order_by(JointMeetingParticipant.meeting_id, JointMeetingParticipant.id)
    )
    return _grouped(meeting_ids, await connection.execute(query), "meeting_id")
