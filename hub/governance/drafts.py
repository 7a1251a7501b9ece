"""What a new case is made of (`CaseDraft`) and the checks every input to a case passes.

Reports, visit follow-ups, patrol findings and hotline appeals all start from a draft, so
they are checked the same way: the sub-type belongs to the category, texts have sensible
lengths, attachment hashes are SHA-256, and the residents and households named exist within
the caller's reach (naming one outside it says "unknown", as if it did not exist).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError
from hub.governance.enums import CATEGORY_OF, SUBTYPES, CaseCategory, CaseSubtype
from hub.storage.models import Grid, Household, Resident

MAX_DESCRIPTION = 4000
MAX_NOTE = 2000
MAX_LOCATION = 255
MAX_ATTACHMENTS = 20
MAX_PEOPLE = 200
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class CaseDraft:
    """A case to be created; `note` and `attachments` go on its first trace."""

    category: CaseCategory
    subtype: CaseSubtype
    description: str
    group_appeal: bool = False
    petition_beyond_district: bool = False  # 越级上访
    mass_incident: bool = False  # 群体性事件
    location: str | None = None
    resident_ids: tuple[str, ...] = ()
    household_ids: tuple[str, ...] = ()
    note: str | None = None
    attachments: tuple[str, ...] = ()

    def arguments(self) -> dict[str, Any]:
        return asdict(self)


def check_draft(draft: CaseDraft) -> CaseDraft:
    """The draft with its texts trimmed; a sub-type of another category is refused."""
    category, subtype = CaseCategory(draft.category), CaseSubtype(draft.subtype)
    if CATEGORY_OF[subtype] is not category:
        allowed = ", ".join(SUBTYPES[category])
        raise BadInputError(
            f"sub-type {subtype} belongs to {CATEGORY_OF[subtype]}, not {category}; "
            f"{category} takes: {allowed}",
            field="subtype",
        )
    return CaseDraft(
        category=category,
        subtype=subtype,
        description=check_text(draft.description, "description", MAX_DESCRIPTION),
        group_appeal=bool(draft.group_appeal),
        petition_beyond_district=bool(draft.petition_beyond_district),
        mass_incident=bool(draft.mass_incident),
        location=check_optional_text(draft.location, "location", MAX_LOCATION),
        resident_ids=_ids(draft.resident_ids, "residentIds"),
        household_ids=_ids(draft.household_ids, "householdIds"),
        note=check_optional_text(draft.note, "note", MAX_NOTE),
        attachments=check_attachments(draft.attachments),
    )


def check_text(value: str, field: str, limit: int) -> str:
    text = (value or "").strip()
    if not text or len(text) > limit:
        raise BadInputError(f"{field} must be 1 to {limit} characters", field=field)
    return text


def check_optional_text(value: str | None, field: str, limit: int) -> str | None:
    if value is None or not value.strip():
        return None
    return check_text(value, field, limit)


def check_attachments(hashes: Iterable[str]) -> tuple[str, ...]:
    """Attachments are stored elsewhere; a trace keeps their SHA-256 (64 hex digits)."""
    normalised = tuple(dict.fromkeys(value.strip().lower() for value in hashes))
    if len(normalised) > MAX_ATTACHMENTS:
        raise BadInputError(f"at most {MAX_ATTACHMENTS} attachments", field="attachments")
    bad = [value for value in normalised if not _SHA256.match(value)]
    if bad:
        raise BadInputError(
            f"attachments are SHA-256 digests (64 hex digits); not one: {bad[0]!r}",
            field="attachments",
        )
    return normalised


def check_aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise BadInputError(f"{field} needs a time zone (e.g. 2026-09-01T08:30:00+08:00)")
    return value


def _ids(values: Iterable[str], field: str) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(values))
    if len(unique) > MAX_PEOPLE:
        raise BadInputError(f"at most {MAX_PEOPLE} {field}", field=field)
    return unique


async def check_people(
    session: AsyncSession,
    *,
    resident_ids: Iterable[str],
    household_ids: Iterable[str],
    reaches: Callable[[str], bool] | None,
) -> None:
    """Every resident and household exists and lies within reach (None: the whole district)."""
    residents, households = list(resident_ids), list(household_ids)
    if residents:
        rows = await session.execute(
            select(Resident.id, Resident.grid_path).where(Resident.id.in_(residents))
        )
        _require_known(dict(rows.all()), residents, "resident", "residentIds", reaches)
    if households:
        rows = await session.execute(
            select(Household.id, Grid.path)
            .join(Grid, Grid.code == Household.grid_code)
            .where(Household.id.in_(households))
        )
        _require_known(dict(rows.all()), households, "household", "householdIds", reaches)


def _require_known(
    paths: dict[str, str],
    wanted: list[str],
    noun: str,
    field: str,
    reaches: Callable[[str], bool] | None,
) -> None:
    for key in wanted:
        path = paths.get(key)
        if path is None or (reaches is not None and not reaches(path)):
            raise BadInputError(f"unknown {noun} {key!r} (none within your reach)", field=field)
