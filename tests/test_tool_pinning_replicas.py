"""TP-2, TP-3 across replicas: two replicas making a server's first discovery at the same moment
agree on its pins, whatever the interleaving of their reads of the store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gateway.audit import AuditLog
from gateway.clock import FrozenClock
from gateway.store.memory import MemoryStore
from gateway.upstream.pin_keeper import PinKeeper
from gateway.upstream.pin_records import Pin, PinBook
from tests.support.fake_upstream import tool
from tests.support.pinned_discovery import Announced
from tools_registry.catalog import Catalog
from tools_registry.servers import UpstreamServer

pytestmark = pytest.mark.anyio

SERVER = UpstreamServer(id="weather", url="https://weather.test/mcp")
LISTED = [{"name": name, **tool(f"{name} the weather")} for name in ("forecast", "alerts", "echo")]


class PausingBook(PinBook):
    """A replica's view of the pin records that lets ``meanwhile`` run after its first read, as
    another replica would between two of this one's round trips to the store."""

    def __init__(self, store: MemoryStore, meanwhile: Callable[[], Awaitable[Any]]) -> None:
        super().__init__(store)
        self._meanwhile: Callable[[], Awaitable[Any]] | None = meanwhile

    async def _paused(self) -> None:
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            await meanwhile()

    async def pins(self, server_id: str) -> dict[str, Pin]:
        found = await super().pins(server_id)
        await self._paused()
        return found

    async def settled(self, server_id: str) -> bool:
        found = await super().settled(server_id)
        await self._paused()
        return found


def keeper(book: PinBook, clock: FrozenClock) -> PinKeeper:
    return PinKeeper(book, clock=clock, audit=AuditLog(clock=clock), announcer=Announced())


async def test_tp3_a_first_discovery_racing_another_replicas_holds_nothing_the_other_pinned() -> None:
    store, clock = MemoryStore(), FrozenClock(1_700_000_000.0)
    found = Catalog().read(SERVER, LISTED)
    first = keeper(PinBook(store), clock)
    other_replica_pinned: dict[str, str] = {}

    async def the_other_replica_discovers() -> None:
        other_replica_pinned.update(await first.settle(SERVER, found))

    second = keeper(PausingBook(store, the_other_replica_discovers), clock)
    approved = await second.settle(SERVER, found)
    assert sorted(other_replica_pinned) == ["alerts", "echo", "forecast"]
    assert approved == other_replica_pinned
    assert await PinBook(store).pending(SERVER.id) == []
