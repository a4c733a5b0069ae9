"""The server registry of a gateway that pins and screens tool definitions.

Two things pinning and screening need from the registry, kept here rather than in
:mod:`tools_registry.server_registry` (which knows nothing of pins):

* removing a server forgets its pins, pending definitions and its first-use mark (TP-8), in the
  registry's own removal, so every way of removing a server does it: a server registered again
  under the same id is a new registration, whose first discovery is judged afresh, never against
  the definitions another upstream had under that id;
* the ids of the registered servers, read synchronously as each discovery screens its answer
  (:meth:`PinnedRegistry.namespaces`): a definition naming another server's tool is refused
  (TS-7) even when that server's tools were never discovered. The ids are those the registry last
  listed (the refresher lists them before each pass), plus the configured ones and any read or
  added since;
* at the gateway's startup (its first listing, given ``prune_clock``), the pins of servers
  registered nowhere (dropped from the config file, TP-10) are marked, and forgotten once they
  stayed so for a grace (:mod:`gateway.upstream.pin_pruning`, which says why not at once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from gateway.store import Store
from gateway.upstream.pin_pruning import prune_orphaned_pins
from gateway.upstream.pin_records import PinBook
from tools_registry.server_registry import ServerRegistry
from tools_registry.servers import UpstreamServer
from tools_registry.tool_names import DEFAULT_SEPARATOR

logger = logging.getLogger("mcp_gateway.pins")


class PinnedRegistry(ServerRegistry):
    """:class:`ServerRegistry` whose removals forget the server's pins (``book``)."""

    def __init__(
        self,
        store: Store,
        book: PinBook,
        configured: Iterable[UpstreamServer] = (),
        reserved_audiences: Iterable[str] = (),
        separator: str = DEFAULT_SEPARATOR,
        prune_clock: Callable[[], float] | None = None,
    ) -> None:
        """``prune_clock``: the time, to prune orphaned pins at the first listing (the running
        gateway's registry); None never prunes (a registry only read or edited)."""
        configured = tuple(configured)
        super().__init__(store, configured, reserved_audiences, separator)
        self.book = book
        """The pin records this registry forgets a removed server's from (TP-8)."""
        self._configured_ids = frozenset(server.id for server in configured)
        self._known = set(self._configured_ids)
        self._prune_clock = prune_clock

    def namespaces(self) -> frozenset[str]:
        """The ids of the servers registered, as last seen: the namespaces TS-7 guards."""
        return frozenset(self._known)

    async def list_servers(self) -> list[UpstreamServer]:
        servers = await super().list_servers()
        self._known = {*self._configured_ids, *(server.id for server in servers)}
        if self._prune_clock is not None:
            now, self._prune_clock = self._prune_clock(), None
            try:
                await prune_orphaned_pins(self.book, frozenset(self._known), now)
            except Exception as exc:  # the listing stands; the next startup prunes
                logger.warning("orphaned tool pins not pruned: %s", type(exc).__name__)
        return servers

    async def get(self, server_id: str) -> UpstreamServer | None:
        found = await super().get(server_id)
        if found is not None:
            self._known.add(found.id)
        return found

    async def add(self, server: UpstreamServer) -> UpstreamServer:
        added = await super().add(server)
        self._known.add(added.id)
        return added

    async def remove(self, server_id: str) -> bool:
        """Remove a stored server and forget its pins (TP-8); a config-file server raises."""
        removed = await super().remove(server_id)
        if removed:
            self._known.discard(server_id)
            await self.book.forget_server(server_id)
        return removed


__all__ = ["PinnedRegistry"]
