"""A refusal: what a limit answers instead of doing the work, as plain data.

Checks in this package return or raise a `Refusal`; the ASGI adapter (`asgi.py`) turns it
into an HTTP response in the GraphQL response format (`{"errors": [...]}` with
`extensions.code`) and the audit trail records it with its outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.audit.records import Outcome
from hub.errors import ErrorCode


@dataclass(eq=False)
class Refusal(Exception):
    """HTTP `status` with `code`; `message` tells the caller what to change."""

    status: int
    code: ErrorCode
    message: str
    outcome: Outcome = Outcome.REJECTED
    headers: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> bytes:
        extensions = {**self.details, "code": self.code.value}
        return orjson.dumps({"errors": [{"message": self.message, "extensions": extensions}]})


def bad_request(message: str, *, status: int = 400, **headers: str) -> Refusal:
    return Refusal(status, ErrorCode.BAD_USER_INPUT, message, headers=headers)


def unavailable(message: str, *, retry_after: int, outcome: Outcome = Outcome.ERROR) -> Refusal:
    """503 with Retry-After: a dependency is down, or the worker is full (load shedding)."""
    headers = {"Retry-After": str(retry_after)}
    return Refusal(503, ErrorCode.UNAVAILABLE, message, outcome=outcome, headers=headers)
