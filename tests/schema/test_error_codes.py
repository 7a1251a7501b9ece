"""Every GraphQL error carries a code from the hub's vocabulary; domain errors keep theirs."""

from __future__ import annotations

import pytest
import strawberry

from hub.errors import ConflictError, HubError, InvalidTransitionError, NotFoundError
from schema.extensions.error_codes import ErrorCodes


def schema_raising(error: Exception) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def act(self) -> int | None:
            raise error

    return strawberry.Schema(query=Query, extensions=[lambda: ErrorCodes(mask_internal=True)])


@pytest.mark.parametrize(
    ("error", "code"),
    [
        pytest.param(
            ConflictError("case c-1 is at version 3, not 2", version=3), "CONFLICT", id="conflict"
        ),
        pytest.param(NotFoundError("no case c-9"), "NOT_FOUND", id="not-found"),
        pytest.param(
            InvalidTransitionError("CLOSED cannot be escalated"), "BAD_USER_INPUT", id="transition"
        ),
    ],
)
async def test_a_domain_error_is_answered_with_its_code_message_and_details(
    error: HubError, code: str
) -> None:
    result = await schema_raising(error).execute("{ act }")

    assert result.data == {"act": None}
    [answered] = result.errors or []
    assert answered.message == error.message
    assert answered.extensions == {**error.details, "code": code}
    assert answered.path == ["act"]


async def test_an_unexpected_exception_is_masked_as_internal() -> None:
    result = await schema_raising(RuntimeError("secret detail")).execute("{ act }")

    [answered] = result.errors or []
    assert answered.message == "Internal server error."
    assert answered.extensions == {"code": "INTERNAL_SERVER_ERROR"}
