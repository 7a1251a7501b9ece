"""Care tags (关爱标签) for the demo district, read off what the departments told the hub.

The connectors bring records, not tags; in a district it is the grid workers who tag
residents. The demo does it for them from the records, so the grid worker's console has
something to show: LOW_INCOME for 低保 or 特困 grants, DISABLED for a disability allowance,
MIGRANT for a residence permit, ELDERLY_ALONE for people of 70 or more alone in their
household, LEFT_BEHIND_CHILD for children under 16 whose household has no one aged 20–55.
Idempotent: tags already there stay, none is added twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import age_on, local_today
from hub.storage.models import AssistanceGrant, ResidencePermit, Resident, ResidentTagRow
from hub.storage.upsert import insert_or_ignore
from hub.vocabulary import AssistanceType, ResidentTag

GRANT_TAGS = {
    AssistanceType.SUBSISTENCE_ALLOWANCE: ResidentTag.LOW_INCOME,
    AssistanceType.EXTREME_POVERTY: ResidentTag.LOW_INCOME,
    AssistanceType.DISABILITY_ALLOWANCE: ResidentTag.DISABLED,
}


async def tag_residents(engine: AsyncEngine, *, today: date | None = None) -> int:
    """Add the tags the records imply; how many (resident, tag) pairs were new."""
    today = today or local_today()
    async with engine.begin() as connection:
        tags: set[tuple[str, ResidentTag]] = set()
        for resident_id, kind in await connection.execute(
            select(AssistanceGrant.resident_id, AssistanceGrant.assistance_type)
        ):
            tags.add((resident_id, GRANT_TAGS[kind]))
        for (resident_id,) in await connection.execute(select(ResidencePermit.resident_id)):
            tags.add((resident_id, ResidentTag.MIGRANT))
        households: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for resident_id, household, born in await connection.execute(
            select(Resident.id, Resident.household_id, Resident.birth_date)
        ):
            if household is not None:
                households[household].append((resident_id, age_on(born, today)))
        for members in households.values():
            tags |= _household_tags(members)
        added = 0
        for resident_id, tag in sorted(tags):
            values = {"resident_id": resident_id, "tag": tag}
            added += bool(await insert_or_ignore(connection, ResidentTagRow, values))
    return added


def _household_tags(members: list[tuple[str, int]]) -> set[tuple[str, ResidentTag]]:
    if len(members) == 1 and members[0][1] >= 70:
        return {(members[0][0], ResidentTag.ELDERLY_ALONE)}
    if any(20 <= age <= 55 for _, age in members):
        return set()
    return {(rid, ResidentTag.LEFT_BEHIND_CHILD) for rid, age in members if age < 16}
