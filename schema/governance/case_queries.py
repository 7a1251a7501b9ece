"""Root queries over cases: one case, and pages of cases by subtree, state, category, overdue,
department. Row scope is `hub.governance.permissions`' (a case beyond reach is null/absent)."""

from __future__ import annotations

import strawberry
from strawberry import federation

from hub.governance import cases, queries
from hub.storage.base import utcnow
from schema.context import Info
from schema.cost import paged
from schema.governance.cases import Case, CaseConnection, CaseEdge, CaseFilterInput
from schema.governance.common import CASES_READ, actor_of, check_key, reading
from schema.pagination import PageInfo


@strawberry.type
class CaseQuery:
    @federation.field(
        requires_scopes=CASES_READ,
        description="One case with its history and assignments; null when beyond your reach.",
    )
    async def case(self, info: Info, id: strawberry.ID) -> Case | None:
        actor, case_id = actor_of(info), check_key(str(id), "id")
        async with reading(info) as session:
            found = await cases.get_case(session, actor=actor, case_id=case_id)
        return Case.from_row(found) if found is not None else None

    @federation.field(
        requires_scopes=CASES_READ,
        description=(
            "Cases within your reach (a grid's subtree; a department: those assigned to it), "
            "newest report first. `first` is 1 to 500; `after` is an `endCursor` you received."
        ),
        directives=[paged()],
    )
    async def cases(
        self,
        info: Info,
        filter: CaseFilterInput | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> CaseConnection | None:
        actor, now = actor_of(info), utcnow()
        filters = filter.to_filter() if filter is not None else queries.CaseFilter()
        async with reading(info) as session:
            page = await queries.list_cases(
                session, actor=actor, filters=filters, now=now, first=first, after=after
            )
        edges = [
            CaseEdge(cursor=queries.cursor_of(case), node=Case.from_row(case, now))
            for case in page.cases
        ]
        page_info = PageInfo(
            has_next_page=page.next_cursor is not None,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )
        return CaseConnection(
            edges=edges, page_info=page_info, actor=actor, filters=filters, now=now
        )
