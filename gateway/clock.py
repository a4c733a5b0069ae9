"""Time as a seam: code that checks expiry takes a ``Clock`` so tests can pass concrete instants."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class FrozenClock:
    """A clock that only moves when told to (for tests).

    >>> clock = FrozenClock(1_700_000_000.0); clock.advance(30); clock.now()
    1700000030.0
    """

    def __init__(self, start: float) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
