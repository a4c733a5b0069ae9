"""Keeping the tool catalogue current: each upstream is discovered again when it is due.

A server is due on its ``refresh_interval``, at once when ``mcp-gateway tools refresh`` asked
(:meth:`Refresher.refresh_now`, through the store, so every replica hears it), and at once when it announced
``notifications/tools/list_changed``; the tools of servers removed from the registry are dropped.

Due times are read on the gateway's :class:`~gateway.clock.Clock`, so a test advances a
``FrozenClock`` and calls :meth:`Refresher.refresh_due` instead of waiting. The pause between two
passes of :meth:`Refresher.run` (``tick``) stays a real sleep: it is how the background task yields
to the event loop, not how the refresh intervals are measured.

What the passes did is kept in :class:`RefreshPasses` (this replica's memory) for the operators'
health report; the application runs :meth:`Refresher.run` under a
:class:`~gateway.background.Supervisor`, which starts it again should it ever stop (UP-1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import anyio

from gateway.clock import Clock
from gateway.store import Store
from gateway.upstream.discovery import Discovery
from gateway.upstream.refresh_requests import REFRESH_REQUESTED, ask_every_replica
from tools_registry.server_registry import ServerRegistry

logger = logging.getLogger("mcp_gateway.discovery")  # the name it logged under in discovery.py


@dataclass
class RefreshPasses:
    """What this replica's refresher did; times are seconds since the epoch."""

    completed: int = 0
    failed: int = 0
    """Passes that raised (logged, and the next one ran on time)."""
    skipped: int = 0
    """Passes that could not list the servers (the store did not answer)."""
    last_pass_at: float | None = None
    """When the last pass completed."""
    last_failure: str | None = None
    last_failure_at: float | None = None
    servers: tuple[str, ...] = ()
    """The ids of the registered servers at the last listing, in order."""
    servers_listed_at: float | None = None

    def failure(self, reason: str, at: float) -> None:
        self.last_failure, self.last_failure_at = reason, at


class Refresher:
    """Re-discovers every server on its ``refresh_interval``, at once when ``tools refresh`` asks or
    the upstream announced ``notifications/tools/list_changed``, and drops the tools of servers
    that were removed; :meth:`run` does so until cancelled."""

    def __init__(
        self,
        discovery: Discovery,
        servers: ServerRegistry,
        store: Store,
        list_changed: set[str],
        clock: Clock,
        tick: float = 1.0,
    ) -> None:
        self._discovery = discovery
        self._list_changed = list_changed
        self._servers = servers
        self._store = store
        self._clock = clock
        self._tick = tick
        self._due: dict[str, float] = {}
        self._last_request: str | None = None
        self.passes = RefreshPasses()

    async def run(self) -> None:
        """Until cancelled; a pass that fails is logged and the next one runs on time."""
        while True:
            try:
                await self.refresh_due()
            except Exception as exc:  # supervision: one bad pass never ends the refresher
                logger.error("tool catalogue refresh pass failed: %s", type(exc).__name__)
                self.passes.failed += 1
                self.passes.failure(type(exc).__name__, self._clock.now())
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
            self.passes.skipped += 1
            self.passes.failure(f"servers not listed: {type(exc).__name__}", self._clock.now())
            return
        now = self._clock.now()
        self.passes.servers, self.passes.servers_listed_at = tuple(s.id for s in servers), now
        while self._list_changed:  # an upstream said notifications/tools/list_changed
            due[self._list_changed.pop()] = 0.0
        for gone in set(due) - {server.id for server in servers}:
            self._discovery.forget(gone)
            del due[gone]
        for server in servers:
            if due.get(server.id, 0.0) <= now:
                await self._discovery.refresh(server)
                due[server.id] = now + server.refresh_interval
        self.passes.completed += 1
        self.passes.last_pass_at = self._clock.now()

    async def refresh_now(self, server_id: str | None) -> dict[str, Any]:
        """``mcp-gateway tools refresh``: discover one server (or all) now, and ask every running
        replica to do the same (a new value under :data:`REFRESH_REQUESTED` makes all of them due)."""
        if server_id is not None:
            found = await self._servers.get(server_id)
            servers = [found] if found is not None else []
        else:
            servers = await self._servers.list_servers()
        results = [await self._discovery.refresh(server) for server in servers]
        await ask_every_replica(self._store, server_id)
        return {"servers": results}
