"""What a queue page lists: the records still waiting for a decision, then the latest decided."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

RECENT = 20
"""How many decided records a queue page lists below the waiting ones."""


class Decidable(Protocol):
    """An access request or a held call, as a queue sees it."""

    @property
    def decided_at(self) -> float | None: ...

    @property
    def expires_at(self) -> float: ...

    def current_status(self, now: float) -> str: ...


Item = TypeVar("Item", bound=Decidable)


def waiting_and_recent(items: Iterable[Item], now: float) -> tuple[list[Item], list[Item]]:
    """The pending records in their order, and the :data:`RECENT` latest others, newest first."""
    everything = list(items)
    pending = [item for item in everything if item.current_status(now) == "pending"]
    decided = sorted(
        (item for item in everything if item.current_status(now) != "pending"),
        key=lambda item: item.decided_at or item.expires_at,
        reverse=True,
    )
    return pending, decided[:RECENT]
