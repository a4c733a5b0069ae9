"""When the catalogue refresher discovers a server again: on its ``refresh_interval``, read on the
gateway's clock. A :class:`FrozenClock` stands in for time and each pass is one call of
``refresh_due``, so no test waits for an interval to pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.clock import FrozenClock
from gateway.store.memory import MemoryStore
from gateway.upstream.refresher import Refresher

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Server:
    id: str
    refresh_interval: float


@dataclass
class Registry:
    servers: list[Server]

    async def list_servers(self) -> list[Server]:
        return list(self.servers)


@dataclass
class CountingDiscovery:
    refreshed: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)

    async def refresh(self, server: Any) -> dict[str, Any]:
        self.refreshed.append(server.id)
        return {"server": server.id, "healthy": True}

    def forget(self, server_id: str) -> None:
        self.forgotten.append(server_id)


async def test_each_server_is_discovered_again_once_its_refresh_interval_has_passed() -> None:
    clock = FrozenClock(1_700_000_000.0)
    discovery = CountingDiscovery()
    servers = Registry([Server("fast", 60), Server("slow", 300)])
    refresher = Refresher(discovery, servers, MemoryStore(clock), set(), clock=clock)

    await refresher.refresh_due()
    assert discovery.refreshed == ["fast", "slow"], "every server is discovered at start"
    clock.advance(59)
    await refresher.refresh_due()
    assert discovery.refreshed == ["fast", "slow"], "nothing is due yet"
    clock.advance(1)
    await refresher.refresh_due()
    assert discovery.refreshed == ["fast", "slow", "fast"]
    clock.advance(240)
    await refresher.refresh_due()
    assert discovery.refreshed == ["fast", "slow", "fast", "fast", "slow"]
