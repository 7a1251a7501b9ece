"""The limits of one app (`LimitsRuntime`) and of one request's caller (`RequestLimits`).

`LimitsRuntime.create(settings, engine, policy)` is built once per app; it holds the
numbers, the shared cost buckets and quota store, and the admission control.
`runtime.for_caller(caller)` gives the request its `RequestLimits`: the static cost bounds,
its cost bucket (by the role's budget, or its client's override) and its harvest quota.
A `RequestLimits()` with no stores bounds cost and nothing else (tests, tools).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.records import AuditRecord
from hub.auth.caller import Caller
from hub.auth.policy import Policy
from hub.clock import local_today
from hub.config import Settings
from hub.limits.budgets import Buckets, Decision, Rate
from hub.limits.forwarded import TrustedProxies
from hub.limits.quotas import HarvestQuota, QuotaStore
from hub.limits.requests import HttpLimits
from hub.limits.shedding import Admission

AlertSink = Callable[[AuditRecord], Awaitable[None]]


@dataclass(frozen=True)
class CostLimits:
    max_cost: int = 10_000
    max_resident_nodes: int = 500
    max_string_length: int = 4000


@dataclass
class RequestLimits:
    """What one request may spend; the GraphQL layer asks, the stores answer."""

    cost: CostLimits = field(default_factory=CostLimits)
    rate: Rate | None = None
    bucket: str | None = None
    buckets: Buckets | None = None
    quota_limit: int | None = None
    quota_key: str | None = None
    quotas: QuotaStore | None = None
    alerts: AlertSink | None = None
    today: Callable[[], date] = local_today

    async def spend(self, cost: int) -> Decision | None:
        """Spend `cost` from the caller's bucket; None when the caller has no bucket."""
        if self.buckets is None or self.rate is None or self.bucket is None:
            return None
        return await self.buckets.spend(self.bucket, cost, self.rate)

    async def quota(self) -> HarvestQuota:
        """Today's harvest quota, loaded once for the request (unlimited without one)."""
        if self.quotas is None or self.quota_key is None or self.quota_limit is None:
            return HarvestQuota()
        return await self.quotas.load(self.quota_key, day=self.today(), limit=self.quota_limit)

    async def settle(self, quota: HarvestQuota) -> bool:
        """Write what the request counted; True when an alert is due (first refusal today)."""
        if self.quotas is None or self.quota_key is None or quota.limit is None:
            return False
        return await self.quotas.save(self.quota_key, day=self.today(), quota=quota)

    async def alert(self, record: AuditRecord) -> None:
        if self.alerts is not None:
            await self.alerts(record)


@dataclass
class LimitsRuntime:
    http: HttpLimits
    cost: CostLimits
    policy: Policy
    proxies: TrustedProxies
    admission: Admission
    buckets: Buckets
    quotas: QuotaStore
    anonymous: Rate
    execution_timeout: float
    alerts: AlertSink | None = None

    @classmethod
    def create(cls, settings: Settings, engine: AsyncEngine, policy: Policy) -> LimitsRuntime:
        return cls(
            http=HttpLimits.from_settings(settings),
            cost=CostLimits(
                max_cost=settings.max_cost,
                max_resident_nodes=settings.max_resident_nodes,
                max_string_length=settings.max_string_length,
            ),
            policy=policy,
            proxies=TrustedProxies.parse(settings.forwarded_allow_ips),
            admission=Admission(
                max_in_flight=settings.max_in_flight,
                max_queued=settings.max_queued,
                queue_timeout=settings.queue_timeout_seconds,
            ),
            buckets=Buckets(engine),
            quotas=QuotaStore(engine),
            anonymous=Rate(capacity=settings.anonymous_requests_per_minute, policy="anonymous"),
            execution_timeout=settings.execution_timeout_seconds,
        )

    async def close(self) -> None:
        """Write the unsynced spending (best effort: the database may be gone) and let go."""
        with contextlib.suppress(Exception):
            await self.buckets.flush()
        await self.buckets.engine.dispose()

    def for_caller(self, caller: Caller) -> RequestLimits:
        key = caller.client_id or caller.subject
        if key is None:  # nobody: nothing to spend, nothing to read
            return RequestLimits(cost=self.cost)
        allowance = self.policy.allowance(roles=caller.roles, client_id=caller.client_id)
        return RequestLimits(
            cost=self.cost,
            rate=Rate(capacity=allowance.cost_budget_per_minute),
            bucket=f"client:{key}",
            buckets=self.buckets,
            quota_limit=allowance.harvest_quota_per_day,
            quota_key=key,
            quotas=self.quotas,
            alerts=self.alerts,
        )

    async def anonymous_request(self, address: str | None) -> Decision:
        """One unauthenticated request from `address`, counted against its bucket."""
        return await self.buckets.spend(f"address:{address or 'unknown'}", 1, self.anonymous)
