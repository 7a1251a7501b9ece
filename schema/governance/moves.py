"""Case mutations: report a case, then move it (accept, escalate, assign, resolve, verify,
close, reopen).

Each takes an idempotency key (a retry with the same key and arguments returns what the first
call produced and changes nothing; the same key with other arguments is BAD_USER_INPUT) and,
for a move, the version of the case the caller saw (CONFLICT when someone moved it first).
An illegal move is BAD_USER_INPUT naming the state and the allowed moves; a case beyond
reach is NOT_FOUND; a visible case the caller may not move is FORBIDDEN, naming who may.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from strawberry import federation

from hub.governance import actions, cases
from schema.context import Info
from schema.enums import Department
from schema.governance.cases import Case, CaseDraftInput
from schema.governance.common import CASES_WRITE, check_key, write
from schema.governance.enums import Satisfaction

Key = Annotated[
    str,
    strawberry.argument(
        description="A key of your choice (1 to 128 characters): new for each request, the "
        "same for its retries."
    ),
]
CaseId = Annotated[strawberry.ID, strawberry.argument(description="The case's id.")]
Version = Annotated[
    int, strawberry.argument(description="The `version` of the case you saw (CONFLICT if moved).")
]
Note = Annotated[
    str | None, strawberry.argument(description="Why, in a few words (at most 2,000 characters).")
]
Attachments = Annotated[
    list[str] | None,
    strawberry.argument(description="SHA-256 of each attachment (64 hex digits), at most 20."),
]

Mover = Callable[..., Awaitable[Any]]


async def _move(
    info: Info,
    mover: Mover,
    *,
    id: strawberry.ID,
    expected_version: int,
    idempotency_key: str,
    note: str | None,
    attachments: list[str] | None,
    **extra: Any,
) -> Case:
    case_id = check_key(str(id), "id")
    moved = await write(
        info,
        lambda session, actor: mover(
            session, actor=actor, case_id=case_id, expected_version=expected_version,
            idempotency_key=idempotency_key, note=note, attachments=tuple(attachments or ()),
            **extra,
        ),
    )  # fmt: skip
    return Case.from_row(moved)


def _mutation(description: str) -> Any:
    return federation.field(requires_scopes=CASES_WRITE, description=description)


@strawberry.type
class CaseMutation:
    @_mutation("Report a case in a grid of your subtree (the dispatcher: anywhere): REPORTED.")
    async def report_case(
        self,
        info: Info,
        idempotency_key: Key,
        grid: Annotated[strawberry.ID, strawberry.argument(description="Where it happened.")],
        case: CaseDraftInput,
    ) -> Case | None:
        draft, code = case.to_draft(), check_key(str(grid), "grid")
        reported = await write(
            info,
            lambda session, actor: cases.report_case(
                session, actor=actor, idempotency_key=idempotency_key, grid_code=code, draft=draft
            ),
        )
        return Case.from_row(reported)

    @_mutation(
        "The holding grid takes the case on (REPORTED, ESCALATED or REOPENED → ACCEPTED), "
        "optionally naming posts of its responsibility board to handle it."
    )
    async def accept_case(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        idempotency_key: Key,
        post_member_ids: Annotated[
            list[int] | None,
            strawberry.argument(description="Board members (GridMember ids) of the holding grid."),
        ] = None,
        note: Note = None,
        attachments: Attachments = None,
    ) -> Case | None:
        return await _move(
            info, actions.accept_case, id=id, expected_version=expected_version,
            idempotency_key=idempotency_key, note=note, attachments=attachments,
            post_member_ids=tuple(post_member_ids or ()),
        )  # fmt: skip

    @_mutation(
        "Hand an accepted case up to the parent of the grid holding it (ACCEPTED → ESCALATED); "
        "the district assigns instead."
    )
    async def escalate_case(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        idempotency_key: Key,
        note: Note = None,
        attachments: Attachments = None,
    ) -> Case | None:
        return await _move(
            info, actions.escalate_case, id=id, expected_version=expected_version,
            idempotency_key=idempotency_key, note=note, attachments=attachments,
        )  # fmt: skip

    @_mutation(
        "The district dispatcher gives the case to one or more departments for joint handling "
        "(ACCEPTED, ESCALATED or ASSIGNED → ASSIGNED)."
    )
    async def assign_case(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        idempotency_key: Key,
        departments: list[Department],
        note: Note = None,
        attachments: Attachments = None,
    ) -> Case | None:
        return await _move(
            info, actions.assign_case, id=id, expected_version=expected_version,
            idempotency_key=idempotency_key, note=note, attachments=attachments,
            departments=tuple(departments),
        )  # fmt: skip

    @_mutation(
        "The holding grid, or an assigned department, reports the case resolved "
        "(ACCEPTED or ASSIGNED → RESOLVED)."
    )
    async def resolve_case(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        idempotency_key: Key,
        note: Note = None,
        attachments: Attachments = None,
    ) -> Case | None:
        return await _move(
            info, actions.resolve_case, id=id, expected_version=expected_version,
            idempotency_key=idempotency_key, note=note, attachments=attachments,
        )  # fmt: skip

    @_mutation("The reporting grid checks the resolution on the spot (RESOLVED → VERIFIED).")
    async def verify_case(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        idempotency_key: Key,
        note: Note = None,
        attachments: Attachments = None,
    ) -> Case | None:
        return await _move(
            info, actions.verify_case, id=id, expected_version=expected_version,
            idempotency_key=idempotency_key, note=note, attachments=attachments,
        )  # fmt: skip

    @_mutation("The reporting grid closes the case with the resident's rating (VERIFIED → CLOSED).")
    async def close_case(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        idempotency_key: Key,
        satisfaction: Satisfaction,
        note: Note = None,
        attachments: Attachments = None,
    ) -> Case | None:
        return await _move(
            info, actions.close_case, id=id, expected_version=expected_version,
            idempotency_key=idempotency_key, note=note, attachments=attachments,
            satisfaction=satisfaction,
        )  # fmt: skip

    @_mutation(
        "Back to the grid that resolved it, within 30 days of verifying or closing "
        "(VERIFIED or CLOSED → REOPENED): the reporting grid or the dispatcher."
    )
    async def reopen_case(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        idempotency_key: Key,
        note: Note = None,
        attachments: Attachments = None,
    ) -> Case | None:
        return await _move(
            info, actions.reopen_case, id=id, expected_version=expected_version,
            idempotency_key=idempotency_key, note=note, attachments=attachments,
        )  # fmt: skip
