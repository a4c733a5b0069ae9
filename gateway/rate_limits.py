"""Counting what someone does in a fixed window, in the store, so every replica shares the count.

Dynamic registrations per address (RG-1) and failed sign-ins per account and per address (SI-1)
are limited this way. A count is one ephemeral store key per (name, window, key): ``add`` starts
it, compare-and-set (``swap``) increments it, so concurrent requests on several replicas never lose
a count. Under heavy contention the loop gives up and answers "over the limit" (fail closed).
For example, ``WindowCounter(store, clock, name="sign-in-account", limit=5, window=900)`` counts
up to five events per key in each quarter of an hour.
"""

from __future__ import annotations

import math

from gateway.clock import Clock
from gateway.store import Store


class WindowCounter:
    def __init__(
        self, store: Store, clock: Clock, *, name: str, limit: int, window: float, attempts: int = 16
    ) -> None:
        self._store = store
        self._clock = clock
        self._name = name
        self._limit = limit
        self._window = window
        self._attempts = attempts

    def _slot(self, key: str) -> tuple[str, float]:
        """The store key of ``key``'s count in the current window, and the seconds left in it."""
        now = self._clock.now()
        window = int(now // self._window)
        return f"{self._name}:{window}:{key}", (window + 1) * self._window - now

    async def exhausted(self, key: str) -> int | None:
        """Seconds until the window ends when ``key`` reached the limit in it; None otherwise."""
        slot, remaining = self._slot(key)
        current = await self._store.get(slot)
        count = (int(current) if current.isdigit() else self._limit) if current is not None else 0
        return max(1, math.ceil(remaining)) if count >= self._limit else None

    async def hit(self, key: str) -> int | None:
        """Count one more for ``key``: None when it was within the limit; otherwise (not counted)
        the seconds until the window ends."""
        slot, remaining = self._slot(key)
        ttl = remaining + 1
        for _ in range(self._attempts):
            if await self._store.add(slot, "1", ttl):
                return None
            current = await self._store.get(slot)
            if current is None:
                continue
            count = int(current) if current.isdigit() else self._limit
            if count >= self._limit:
                break
            if await self._store.swap(slot, current, str(count + 1), ttl):
                return None
        return max(1, math.ceil(remaining))
