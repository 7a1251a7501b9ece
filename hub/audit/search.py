"""Queries over the audit trail for auditors: filtered event pages and per-resident reports.

An auditor may start from an ID or mobile number: the trail holds it only as a keyed hash
(hub/audit/redaction.py), so the filter carries that hash (`number_token`) and finds the
events whose variables or headers held the number, together with the events that returned
the resident it belongs to (`number_resident_id`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, String, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.models import AuditEvent, AuditResidentAccess

EVENTS = AuditEvent.__table__


@dataclass(frozen=True)
class EventFilter:
    client_id: str | None = None
    subject: str | None = None
    resident_id: str | None = None
    outcome: str | None = None
    operation_name: str | None = None
    field: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    issuer: str | None = None
    number_token: str | None = None  # the keyed hash of an ID or mobile number
    number_resident_id: str | None = None  # the resident holding that number, if any


# Where a redacted number may stand in an event: variables and the free-text headers.
_TEXT_COLUMNS = (
    AuditEvent.purpose,
    AuditEvent.end_user,
    AuditEvent.case_ref,
    AuditEvent.request_id,
    AuditEvent.subject,
)


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(criteria: EventFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for column, value in (
        (AuditEvent.client_id, criteria.client_id),
        (AuditEvent.subject, criteria.subject),
        (AuditEvent.outcome, criteria.outcome),
        (AuditEvent.operation_name, criteria.operation_name),
        (AuditEvent.issuer, criteria.issuer),
    ):
        if value is not None:
            conditions.append(column == value)
    if criteria.resident_id is not None:
        conditions.append(_returned(criteria.resident_id))
    if criteria.number_token is not None:
        conditions.append(_mentions(criteria.number_token, criteria.number_resident_id))
    if criteria.field is not None:
        pattern = f'%"{_like_literal(criteria.field)}"%'
        conditions.append(cast(AuditEvent.fields, String).like(pattern, escape="\\"))
    if criteria.start is not None:
        conditions.append(AuditEvent.at >= criteria.start)
    if criteria.end is not None:
        conditions.append(AuditEvent.at < criteria.end)
    return conditions


def _returned(resident_id: str) -> ColumnElement[bool]:
    accessed = (
        (AuditResidentAccess.chain_id == AuditEvent.chain_id)
        & (AuditResidentAccess.seq == AuditEvent.seq)
        & (AuditResidentAccess.resident_id == resident_id)
    )
    return exists().where(accessed)


def _mentions(token: str, resident_id: str | None) -> ColumnElement[bool]:
    """Events that held the number (as its keyed hash) or returned its resident."""
    pattern = f"%{_like_literal(token)}%"
    found: list[ColumnElement[bool]] = [
        cast(AuditEvent.variables, String).like(pattern, escape="\\")
    ]
    found += [column.like(pattern, escape="\\") for column in _TEXT_COLUMNS]
    if resident_id is not None:
        found.append(_returned(resident_id))
    return or_(*found)


async def find_events(
    connection: AsyncConnection, *, criteria: EventFilter, limit: int, before_id: int | None
) -> Sequence[Row[Any]]:
    """Newest first; keyset pagination on the event id."""
    query = select(EVENTS).where(*_conditions(criteria))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return (await connection.execute(query.order_by(AuditEvent.id.desc()).limit(limit))).all()


async def count_events(connection: AsyncConnection, *, criteria: EventFilter) -> int:
    query = select(func.count()).select_from(EVENTS).where(*_conditions(criteria))
    return int((await connection.execute(query)).scalar_one())


async def resident_accesses(
    connection: AsyncConnection,
    *,
    resident_id: str,
    start: datetime | None,
    end: datetime | None,
) -> Sequence[Row[Any]]:
    """Every event that returned this resident, oldest first."""
    query = (
        select(EVENTS)
        .join(
            AuditResidentAccess,
            (AuditResidentAccess.chain_id == AuditEvent.chain_id)
            & (AuditResidentAccess.seq == AuditEvent.seq),
        )
        .where(AuditResidentAccess.resident_id == resident_id)
        .order_by(AuditResidentAccess.at, AuditEvent.id)
    )
    if start is not None:
        query = query.where(AuditResidentAccess.at >= start)
    if end is not None:
        query = query.where(AuditResidentAccess.at < end)
    return (await connection.execute(query)).all()
