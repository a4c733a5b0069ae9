"""TP-10: the pins of a server dropped from the config file are forgotten, but only after a grace.

A replica still running the old config may serve that server during a rolling deploy; forgetting
its pins at once would make that replica's next discovery a first one (``first-use`` pins it
unreviewed). So the first startup that finds it registered nowhere marks it, a replica that still
discovers it removes the mark, and a startup a grace later forgets what is still marked. Each
"startup" here is a new registry over the same store, listed once, at a time the test sets.
"""

from __future__ import annotations

import logging

import pytest

from gateway.clock import FrozenClock
from gateway.store.memory import MemoryStore
from gateway.upstream.pin_pruning import ORPHAN_GRACE
from gateway.upstream.pin_records import PendingDefinition, Pin, PinBook
from gateway.upstream.pin_registry import PinnedRegistry
from tests.support.pinned_discovery import Listed, PinnedDiscovery
from tools_registry.servers import UpstreamServer

pytestmark = pytest.mark.anyio

CONFIGURED = UpstreamServer("weather", "https://weather.example/mcp", source="config")
STORED = UpstreamServer("github", "https://github.example/mcp")
DROPPED = "billing"


async def pinned(book: PinBook, server_id: str) -> None:
    await book.put_pin(Pin(server_id, "t", "a" * 64, {"name": "t"}, "policy:first-use", 1.0))
    await book.put_pending(PendingDefinition(server_id, "u", "b" * 64, {"name": "u"}, None, 2.0))
    await book.mark_settled(server_id, 1.0)


class Deployment:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.book = PinBook(self.store)
        self.clock = FrozenClock(1_700_000_000.0)

    async def start(self) -> PinnedRegistry:
        """A replica starting with the new config (``billing`` dropped from it): its first listing."""
        registry = PinnedRegistry(self.store, self.book, (CONFIGURED,), prune_clock=self.clock.now)
        await registry.list_servers()
        return registry

    async def has_pins(self, server_id: str) -> bool:
        return server_id in await self.book.servers()


@pytest.fixture
async def deployment() -> Deployment:
    world = Deployment()
    await PinnedRegistry(world.store, world.book).add(STORED)
    for server_id in (CONFIGURED.id, STORED.id, DROPPED):
        await pinned(world.book, server_id)
    return world


async def test_tp10_a_server_registered_nowhere_is_forgotten_a_grace_after_it_was_first_found(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "mcp_gateway.pins"):
        await deployment.start()
    assert await deployment.book.orphaned_since(DROPPED) == deployment.clock.now()
    assert await deployment.has_pins(DROPPED), "nothing is forgotten at the first sighting"
    assert "'billing' has tool pins but is registered nowhere" in caplog.text
    deployment.clock.advance(ORPHAN_GRACE - 1)
    await deployment.start()
    assert await deployment.has_pins(DROPPED)
    deployment.clock.advance(1)
    with caplog.at_level(logging.WARNING, "mcp_gateway.pins"):
        await deployment.start()
    assert not await deployment.has_pins(DROPPED)
    assert await deployment.book.pending(DROPPED) == [] and not await deployment.book.settled(DROPPED)
    assert await deployment.book.orphaned_since(DROPPED) is None
    assert "'billing' is registered nowhere since" in caplog.text
    assert await deployment.book.servers() == {CONFIGURED.id, STORED.id}, "registered servers keep theirs"


async def test_tp10_a_replica_that_still_discovers_the_server_keeps_its_pins(deployment: Deployment) -> None:
    await deployment.start()
    deployment.clock.advance(ORPHAN_GRACE / 2)
    old_replica = PinnedDiscovery({"mcp": Listed({"name": "t"})}, deployment.store)
    await old_replica.discover(UpstreamServer(DROPPED, "https://billing.example/mcp"))
    assert await deployment.book.orphaned_since(DROPPED) is None
    deployment.clock.advance(ORPHAN_GRACE)
    await deployment.start()
    assert await deployment.has_pins(DROPPED), "marked again, not forgotten"
    assert await deployment.book.orphaned_since(DROPPED) == deployment.clock.now()


async def test_tp10_only_the_first_listing_prunes(deployment: Deployment) -> None:
    registry = await deployment.start()
    await deployment.book.unmark_orphaned(DROPPED)
    deployment.clock.advance(ORPHAN_GRACE * 2)
    await registry.list_servers()
    assert await deployment.book.orphaned_since(DROPPED) is None
    unpruned = PinnedRegistry(deployment.store, deployment.book, (CONFIGURED,))
    await unpruned.list_servers()
    assert await deployment.book.orphaned_since(DROPPED) is None
