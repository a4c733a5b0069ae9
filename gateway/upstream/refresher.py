"""Keeping the tool catalogue current: each upstream is discovered again when it is due.

A server is due on its ``refresh_interval``, at once when ``mcp-gateway tools refresh`` asked
(through the store, so every replica hears it), and at once when it announced
``notifications/tools/list_changed``; the tools of servers removed from the registry are dropped.

Due times are read on the gateway's :class:`~gateway.clock.Clock`, so a test advances a
``FrozenClock`` and calls :meth:`Refresher.refresh_due` instead of waiting. The pause between two
passes of :meth:`Refresher.run` (``tick``) stays a real sleep: it is how the background task yields
to the event loop, not how the refresh intervals are measured.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import anyio

from gateway.clock import Clock
from gateway.upstream.discovery import Discovery

logger = logging.getLogger("mcp_gateway.discovery")  # the name it logged under in discovery.py

REFRESH_REQUESTED = "tools-refresh-requested"
"""Store key whose value changes each time ``tools refresh`` asks every replica to discover again."""


class ServerDiscovery(Protocol):
    """What the refresher needs of :class:`~gateway.upstream.discovery.Discovery`."""

    async def refresh(self, server: Any) -> dict[str, Any]: ...


class Refresher:
    """Re-discovers every server on its ``refresh_interval``, at once when ``tools refresh`` asks or
    the upstream announced ``notifications/tools/list_changed``, and drops the tools of servers
    that were removed; :meth:`run` does so until cancelled."""

    def __init__(
        self,
        discovery: ServerDiscovery,
        servers: Any,
        catalog: Any,
        store: Any,
        list_changed: set[str],
        clock: Clock,
        tick: float = 1.0,
    ) -> None:
        self._discovery = discovery
        self._list_changed = list_changed
        self._servers = servers
        self._catalog = catalog
        self._store = store
        self._clock = clock
        self._tick = tick
        self._due: dict[str, float] = {}
        self._last_request: str | None = None

    async def run(self) -> None:
        while True:
            await self.refresh_due()
            await anyio.sleep(self._tick)

    async def refresh_due(self) -> None:
        """One pass: discover every server that is due now, and forget the removed ones."""
        due = self._due
        try:
            request = await self._store.get(REFRESH_REQUESTED)
            if request != self._last_request:
                due.clear()
                self._last_request = request
            servers = await self._servers.list_servers()
        except Exception as exc:  # the store is down: keep serving what is known
            logger.warning("tool catalogue refresh skipped: %s", type(exc).__name__)
            return
        now = self._clock.now()
        while self._list_changed:  # an upstream said notifications/tools/list_changed
            due[self._list_changed.pop()] = 0.0
        for gone in set(due) - {server.id for server in servers}:
            self._catalog.remove(gone)
            del due[gone]
        for server in servers:
            if due.get(server.id, 0.0) <= now:
                await self._discovery.refresh(server)
                due[server.id] = now + server.refresh_interval


class Refreshable(Protocol):
    """What ``refresh_tools`` needs of the wired gateway (:class:`gateway.composition.Gateway`)."""

    @property
    def servers(self) -> Any: ...
    @property
    def discovery(self) -> Discovery: ...
    @property
    def store(self) -> Any: ...


async def refresh_tools(gateway: Refreshable, server_id: str | None) -> dict[str, Any]:
    """``mcp-gateway tools refresh``: discover now, and ask every running replica to do the same."""
    if server_id is not None:
        found = await gateway.servers.get(server_id)
        servers = [found] if found is not None else []
    else:
        servers = await gateway.servers.list_servers()
    results = [await gateway.discovery.refresh(server) for server in servers]
    await gateway.store.put(REFRESH_REQUESTED, str(anyio.current_time()) + ":" + (server_id or "*"), 3600)
    return {"servers": results}
