"""Failed client authentications counted per key, so guessing secrets soon meets 429 (RFC 6585).

The token and revocation endpoints key it by (claimed client id, remote address); past
`max_failures` within the window they answer 429 with Retry-After until it passes.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class FailureThrottle:
    """Counts failed client authentications per key; in memory, per process."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_seconds: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._failures: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def retry_after(self, key: tuple[str, str]) -> int:
        """Seconds until the next attempt is allowed; 0 when it is allowed now."""
        failures = self._recent(key)
        if len(failures) < self.max_failures:
            return 0
        oldest = failures[-self.max_failures]
        return max(1, math.ceil(oldest + self.window_seconds - self._clock()))

    def failed(self, key: tuple[str, str]) -> None:
        self._failures[key] = [*self._recent(key), self._clock()]
        self._failures.move_to_end(key)
        while len(self._failures) > self._max_entries:
            self._failures.popitem(last=False)

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str]) -> list[float]:
        horizon = self._clock() - self.window_seconds
        return [moment for moment in self._failures.get(key, ()) if moment > horizon]
