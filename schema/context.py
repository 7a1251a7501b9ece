"""The per-request context: who calls and why, one database connection, loaders and the ledger."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import strawberry
from starlette.requests import HTTPConnection
from starlette.responses import Response

from hub.audit.ledger import AccessLedger
from hub.auth.caller import Caller
from hub.crypto.ring import KeyRing, NoKeyRing
from hub.governance.events import EventBus
from hub.limits.quotas import HarvestQuota
from hub.limits.runtime import RequestLimits
from hub.request_headers import Purpose
from hub.storage.counts import CountCache
from hub.storage.session import RequestDatabase
from schema.loads import Loaders, LoadScope

__all__ = ["Caller", "Context", "Info", "Purpose", "RequestDatabase", "RequestInfo"]


@dataclass
class RequestInfo:
    """Where the request came from, for the audit trail."""

    request_id: str = ""
    endpoint: str = "graphql"
    client_address: str | None = None
    response: Response | None = None  # the response under construction (status, headers)
    connection: HTTPConnection | None = None  # the HTTP request or websocket
    deadline: asyncio.Timeout | None = None  # the execution timeout, while it runs
    # When that timeout started (time.perf_counter_ns): the audited duration runs from there,
    # so a request cut off by the timeout is recorded as lasting the timeout (to within the
    # event loop clock's millisecond), not less by what ran before the audit hook.
    started_ns: int | None = None


@dataclass
class Context:
    database: RequestDatabase
    caller: Caller
    today: date
    request_purpose: Purpose = field(default_factory=Purpose)
    request: RequestInfo = field(default_factory=RequestInfo)
    max_page_size: int = 500
    fields: KeyRing = field(default_factory=NoKeyRing)  # opens sealed ID and phone numbers
    ledger: AccessLedger = field(default_factory=AccessLedger)
    counts: CountCache = field(default_factory=lambda: CountCache(0))  # 0: count every time
    connection_params: dict[str, Any] | None = None  # a websocket's connection_init payload
    events: EventBus | None = None  # case events, for subscriptions
    # What the caller may spend (cost, rate, quota), and today's harvest quota once loaded:
    # executors call `quota.allows(resident_id)` before serving a PII or sensitive field.
    limits: RequestLimits = field(default_factory=RequestLimits)
    quota: HarvestQuota = field(default_factory=HarvestQuota)
    connectors: Any = None  # the connectors config (HUB_CONNECTORS), for admin mutations
    _loaders: Loaders | None = field(default=None, init=False, repr=False)

    @property
    def purpose(self) -> str | None:
        return self.request_purpose.purpose

    def for_operation(self) -> Context:
        """A copy for one more operation on the same connection: same caller, fresh state."""
        return dataclasses.replace(
            self,
            database=RequestDatabase(self.database.engine),
            ledger=AccessLedger(),
            quota=HarvestQuota(),
        )

    def fresh_loads(self) -> None:
        """Forget what the loaders fetched (a subscription's next event reads anew)."""
        self._loaders = None

    @property
    def loaders(self) -> Loaders:
        """Built on first use, for the caller as authenticated by then (websockets: on init)."""
        if self._loaders is None:
            caller = self.caller
            scope = LoadScope(
                within_path=caller.grid_path,
                today=self.today,
                scopes=caller.scopes,
                fields=self.fields,
            )
            self._loaders = Loaders(self.database, scope)
        return self._loaders


Info = strawberry.Info[Context, None]
