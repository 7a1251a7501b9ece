"""Retry timing for HTTP sources: exponential backoff with full jitter, Retry-After, request rate."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Full jitter (AWS architecture blog): uniform in [0, min(cap, base·2^(attempt-1))].

    Randomness spreads the retries of many replicas so they do not hit a recovering server
    in lockstep.
    """
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return (rng or random).uniform(0, ceiling)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # RFC 9110 §5.6.7: HTTP dates are GMT
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RateLimiter:
    """Space request starts at least 1/rate seconds apart (a department API's agreed quota)."""

    def __init__(self, requests_per_second: float | None) -> None:
        self._interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self._next_at = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self._interval:
            return
        async with self._lock:
            loop = asyncio.get_running_loop()
            delay = self._next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next_at = max(self._next_at, loop.time()) + self._interval
