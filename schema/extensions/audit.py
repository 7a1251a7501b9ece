"""Appends one audit event per GraphQL request, and answers only once it is durable.

What is recorded is what happened, not what the query text suggests: the request's access
ledger (`hub/audit/ledger.py`) says which residents were returned, which protected fields
resolved and which paths were refused.
If the event cannot be written, no data is served (HTTP 503 UNAVAILABLE with Retry-After:
fail closed).

Outcomes: a refusal by a bound (QUERY_TOO_COMPLEX, RATE_LIMITED, QUOTA_EXCEEDED) is
LIMITED; a request cancelled by the execution timeout is TIMEOUT (recorded on its way out,
while the cancellation passes through); an operation strawberry refuses to run for the
HTTP method (a GET mutation) or cannot find is REJECTED.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionContext

from hub.audit.records import AuditRecord, Outcome
from hub.audit.redaction import Redactor
from hub.audit.writer import AuditUnavailableError, AuditWriter
from hub.limits.availability import RETRY_AFTER_SECONDS
from hub.storage.base import utcnow
from schema.context import Context
from schema.errors import (
    BAD_USER_INPUT,
    FORBIDDEN,
    INTERNAL_SERVER_ERROR,
    PURPOSE_REQUIRED,
    QUERY_TOO_COMPLEX,
    QUOTA_EXCEEDED,
    RATE_LIMITED,
    TIMEOUT,
    UNAVAILABLE,
)

REFUSALS = frozenset({FORBIDDEN, PURPOSE_REQUIRED})
LIMITS = frozenset({QUERY_TOO_COMPLEX, RATE_LIMITED, QUOTA_EXCEEDED})
FAILURES = frozenset({INTERNAL_SERVER_ERROR, UNAVAILABLE})
NOT_RUN = (InvalidOperationTypeError, CannotGetOperationTypeError)
ENDED_CODES = {
    Outcome.REJECTED: BAD_USER_INPUT,
    Outcome.TIMEOUT: TIMEOUT,
    Outcome.ERROR: INTERNAL_SERVER_ERROR,
}


class AuditExtension(SchemaExtension):
    def __init__(self, *, writer: AuditWriter, redactor: Redactor) -> None:
        self.writer = writer
        self.redactor = redactor

    async def on_operation(self) -> AsyncIterator[None]:
        started = _started(self.execution_context.context)
        # Redacted now: resolvers may mutate the variables (federation adds to representations).
        variables = self.redactor.variables(self.execution_context.variables)
        escaped: GraphQLError | None = None
        ended: Outcome | None = None
        try:
            yield
        except GraphQLError as error:
            escaped = error
            raise
        except NOT_RUN:
            ended = Outcome.REJECTED
            raise
        except asyncio.CancelledError:  # the timeout's cancellation, or the client went away
            ended = _timed_out(self.execution_context.context)
            raise
        except Exception:
            ended = Outcome.ERROR
            raise
        finally:
            context = self.execution_context.context
            if isinstance(context, Context):
                duration_us = (time.perf_counter_ns() - started) // 1000
                record = self._record(context, escaped, duration_us, variables, ended)
                await self._write(context, record)

    async def _write(self, context: Context, record: AuditRecord) -> None:
        try:
            await self.writer.append(record)
        except AuditUnavailableError:
            result = self.execution_context.result
            if result is not None:
                result.data = None
                result.errors = [
                    GraphQLError(
                        "the audit trail cannot be written, so no data is served; retry later",
                        extensions={"code": UNAVAILABLE},
                    )
                ]
            if context.request.response is not None:
                context.request.response.status_code = 503
                context.request.response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)

    def _record(
        self,
        context: Context,
        escaped: GraphQLError | None,
        duration_us: int,
        variables: dict[str, Any],
        ended: Outcome | None = None,
    ) -> AuditRecord:
        execution = self.execution_context
        caller, purpose = context.caller, context.request_purpose
        errors = _errors(execution, escaped)
        codes = sorted({_code(error) for error in errors})
        if ended is not None:
            codes = [ENDED_CODES[ended]]
        outcome = ended or _outcome(execution, errors, invalid=escaped is not None)
        return AuditRecord(
            at=utcnow(),
            request_id=context.request.request_id,
            endpoint=context.request.endpoint,
            outcome=outcome,
            duration_us=duration_us,
            client_id=caller.client_id,
            subject=caller.subject,
            roles=list(caller.roles),
            scopes=sorted(caller.scopes),
            grid_scope=caller.grid_code if caller.grid_path else None,
            client_address=context.request.client_address,
            purpose=purpose.purpose,
            end_user=purpose.end_user,
            case_ref=purpose.case_ref,
            operation_type=_operation_type(execution),
            operation_name=_operation_name(execution),
            document_hash=_document_hash(execution.query),
            variables=variables,
            resident_ids=sorted(context.ledger.resident_ids),
            fields=sorted(context.ledger.allowed_fields),
            denied_paths=context.ledger.denied_paths,
            error_codes=codes,
            issuer=caller.issuer,
            writes=[entry.to_json() for entry in context.ledger.writes],
        )


def _errors(execution: ExecutionContext, escaped: GraphQLError | None) -> list[GraphQLError]:
    if escaped is not None:
        return [escaped]
    if execution.result is not None and execution.result.errors:
        return list(execution.result.errors)
    return list(execution.pre_execution_errors or [])


def _code(error: GraphQLError) -> str:
    return str((error.extensions or {}).get("code", INTERNAL_SERVER_ERROR))


def _outcome(execution: ExecutionContext, errors: list[GraphQLError], *, invalid: bool) -> Outcome:
    if not errors:
        return Outcome.OK
    codes = {_code(error) for error in errors}
    if codes & FAILURES:
        return Outcome.ERROR
    if codes & LIMITS:
        return Outcome.LIMITED
    if invalid or any(error.path is None for error in errors):  # parse or validation error
        return Outcome.INVALID
    data: dict[str, Any] = (execution.result.data if execution.result else None) or {}
    if any(value is not None for value in data.values()):
        return Outcome.PARTIAL
    return Outcome.DENIED if codes <= REFUSALS else Outcome.INVALID


def _started(context: object) -> int:
    """When the request's execution began: where its timeout started (HTTP), or now."""
    if isinstance(context, Context) and context.request.started_ns is not None:
        return context.request.started_ns
    return time.perf_counter_ns()


def _timed_out(context: object) -> Outcome:
    """TIMEOUT when the request's deadline has passed; otherwise the client went away (ERROR)."""
    deadline = context.request.deadline if isinstance(context, Context) else None
    return Outcome.TIMEOUT if deadline is not None and deadline.expired() else Outcome.ERROR


def _operation(execution: ExecutionContext) -> OperationDefinitionNode | None:
    document = execution.graphql_document
    if document is None:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    wanted = execution.operation_name
    return next(
        (o for o in operations if wanted is None or (o.name and o.name.value == wanted)), None
    )


def _operation_type(execution: ExecutionContext) -> str | None:
    operation = _operation(execution)
    return operation.operation.value if operation is not None else None


def _operation_name(execution: ExecutionContext) -> str | None:
    if execution.operation_name:
        return execution.operation_name[:128]
    operation = _operation(execution)
    return operation.name.value if operation is not None and operation.name else None


def _document_hash(query: str | None) -> str | None:
    return hashlib.sha256(query.encode()).hexdigest() if query else None
