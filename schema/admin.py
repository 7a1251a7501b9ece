"""The administrator's API (`admin`): connectors and their last runs, quarantine (with retry),
OAuth clients and staff accounts. No resident data: the quarantine shows each record's
reason and key, never its payload.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry import federation

from hub.auth.clients import list_clients
from hub.auth.users import list_users
from hub.quarantine import list_quarantine
from hub.storage.session import create_sessionmaker
from hub.sync.status import stream_status
from schema.context import Info
from schema.errors import BadUserInputError
from schema.pagination import check_page_size

ADMIN = [["admin"]]


@strawberry.type(description="A connector stream's last run and cursor.")
class ConnectorStream:
    connector: str
    stream: str
    cursor: str | None = strawberry.field(description="The stream's cursor (JSON for files).")
    cursor_updated_at: datetime | None
    last_run_status: str | None
    last_run_started_at: datetime | None
    last_run_finished_at: datetime | None
    read: int
    inserted: int
    updated: int
    quarantined: int
    error: str | None

    @classmethod
    def from_status(cls, row: dict[str, Any]) -> ConnectorStream:
        run = row["last_run"] or {}
        return cls(
            connector=row["connector"],
            stream=row["stream"],
            cursor=_text(row["cursor"]),
            cursor_updated_at=_time(row["cursor_updated_at"]),
            last_run_status=run.get("status"),
            last_run_started_at=_time(run.get("started_at")),
            last_run_finished_at=_time(run.get("finished_at")),
            read=run.get("read", 0),
            inserted=run.get("inserted", 0),
            updated=run.get("updated", 0),
            quarantined=run.get("quarantined", 0),
            error=run.get("error"),
        )


@strawberry.type(description="A record a connector could not accept (its payload is not shown).")
class QuarantinedRecord:
    id: int
    connector: str
    stream: str
    record_key: str
    reason: str
    message: str
    attempts: int
    first_seen_at: datetime
    last_seen_at: datetime


@strawberry.type(description="A registered OAuth client (machine caller).")
class OAuthClientInfo:
    client_id: str
    name: str
    role: str
    grid: str | None
    auth_method: str
    created_at: datetime
    revoked_at: datetime | None


@strawberry.type(description="A staff account (a person who signs in to the consoles).")
class StaffAccount:
    name: str
    role: str
    grid: str | None
    created_at: datetime
    last_login_at: datetime | None
    locked_until: datetime | None
    disabled_at: datetime | None


@strawberry.type(description="What retrying quarantined records did.")
class QuarantineRetry:
    retried: int
    resolved: int
    remaining: int
    skipped_streams: list[str]


@strawberry.type
class AdminQuery:
    @federation.field(requires_scopes=ADMIN, description="Each connector stream: cursor, last run.")
    async def connector_streams(self, info: Info) -> list[ConnectorStream] | None:
        rows = await stream_status(info.context.database.engine, now=datetime.now(UTC))
        return [ConnectorStream.from_status(row) for row in rows]

    @federation.field(
        requires_scopes=ADMIN, description="Quarantined records in id order, after the id `after`."
    )
    async def quarantined_records(
        self,
        info: Info,
        connector: str | None = None,
        stream: str | None = None,
        first: int = 50,
        after: int = 0,
    ) -> list[QuarantinedRecord] | None:
        check_page_size(first, maximum=info.context.max_page_size)
        async with create_sessionmaker(info.context.database.engine)() as session:
            rows = await list_quarantine(
                session, connector=connector, stream=stream, after=after, limit=first
            )
        return [
            QuarantinedRecord(
                id=r.id,
                connector=r.connector,
                stream=r.stream,
                record_key=r.record_key,
                reason=r.reason.value,
                message=r.message,
                attempts=r.attempts,
                first_seen_at=r.first_seen_at,
                last_seen_at=r.last_seen_at,
            )
            for r in rows
        ]

    @federation.field(requires_scopes=ADMIN, description="Registered OAuth clients.")
    async def oauth_clients(self, info: Info) -> list[OAuthClientInfo] | None:
        async with create_sessionmaker(info.context.database.engine)() as session:
            rows = await list_clients(session)
        return [
            OAuthClientInfo(
                client_id=c.client_id,
                name=c.name,
                role=c.role,
                grid=c.grid_code,
                auth_method=c.token_endpoint_auth_method,
                created_at=c.created_at,
                revoked_at=c.revoked_at,
            )
            for c in rows
        ]

    @federation.field(requires_scopes=ADMIN, description="Staff accounts.")
    async def staff_accounts(self, info: Info) -> list[StaffAccount] | None:
        async with create_sessionmaker(info.context.database.engine)() as session:
            rows = await list_users(session)
        return [
            StaffAccount(
                name=u.name,
                role=u.role,
                grid=u.grid_code,
                created_at=u.created_at,
                last_login_at=u.last_login_at,
                locked_until=u.locked_until,
                disabled_at=u.disabled_at,
            )
            for u in rows
        ]


@strawberry.type
class AdminMutation:
    @federation.field(
        requires_scopes=ADMIN,
        description="Run quarantined records through the pipeline again (`hub quarantine retry`).",
    )
    async def retry_quarantine(
        self, info: Info, connector: str | None = None, stream: str | None = None
    ) -> QuarantineRetry | None:
        from hub.sync.retry import retry_quarantine

        config = info.context.connectors
        if config is None:
            raise BadUserInputError(
                "this hub has no connectors file (HUB_CONNECTORS); nothing to retry"
            )
        summary = await retry_quarantine(
            info.context.database.engine, config, connector=connector, stream=stream
        )
        return QuarantineRetry(
            retried=summary.retried,
            resolved=summary.resolved,
            remaining=summary.remaining,
            skipped_streams=list(summary.skipped_streams),
        )


def _text(value: Any) -> str | None:
    """A cursor as stored (a string, or a file connector's JSON object) shown as text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
