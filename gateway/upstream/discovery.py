"""Discovering each upstream's tools, from the :class:`~gateway.upstream.tool_sources.ToolSource`
of its kind: an MCP server's ``tools/list``, a REST API's OpenAPI document.

An upstream that fails or answers garbage
is marked unhealthy and logged; the rest of the catalogue keeps serving. Each answer's tool
definitions are settled against the pins (:mod:`gateway.upstream.pin_keeper`, TP-2) before the
catalogue takes it, so it serves only approved definitions; a store that cannot tell the pins
makes that discovery fail (its tools hidden), never serves an unreviewed definition.

Reading (and so screening) an answer costs about 0.4 ms per definition, some two seconds for one
server at :data:`MAX_TOOLS_PER_SERVER`: it runs in a worker thread
(:meth:`~tools_registry.catalog.Catalog.reader` is pure), so ``tools/list`` and calls keep being
answered meanwhile; the catalogue itself only changes on the loop (``replace``).
:mod:`gateway.upstream.refresher` repeats discovery when each server is due.

Each server's attempts are kept in :class:`Attempts` (this replica's memory) for the operators'
health report; a server's first failure after a success, and its recovery, are audited.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.oauth.tokens.audiences import Targets
from gateway.upstream.pin_keeper import PinKeeper
from gateway.upstream.tool_sources import DISCOVERY_SUBJECT, MAX_PAGES, MAX_TOOLS_PER_SERVER, ToolSource
from gateway.upstream.transport import UpstreamFailure
from tools_registry.catalog import Catalog
from tools_registry.servers import Kind, UpstreamServer

logger = logging.getLogger("mcp_gateway.discovery")
__all__ = ["DISCOVERY_SUBJECT", "MAX_PAGES", "MAX_TOOLS_PER_SERVER", "Attempts", "Discovery"]


@dataclass
class Attempts:
    """This replica's discoveries of one server; times are seconds since the epoch."""

    last_attempt_at: float | None = None
    last_success_at: float | None = None
    consecutive_failures: int = 0


class Discovery:
    def __init__(
        self,
        sources: Mapping[Kind, ToolSource],
        catalog: Catalog,
        targets: Targets,
        *,
        clock: Clock,
        audit: AuditLog,
        pins: PinKeeper | None = None,
    ) -> None:
        """``sources``: where the tools of each kind of server come from. ``pins``: settles each
        answer's definitions against the pins (TP-2); None serves every tool an upstream lists
        (tests of parts that do not care)."""
        self._sources = sources
        self._catalog = catalog
        self._targets = targets
        self._clock = clock
        self._audit = audit
        self._pins = pins
        self.attempts: dict[str, Attempts] = {}

    async def list_tools(self, server: UpstreamServer) -> list[Any]:
        """The server's tool definitions now, from the source of its kind."""
        return (await self._sources[server.kind].list_tools(server)).tools

    async def refresh(self, server: UpstreamServer) -> dict[str, Any]:
        """Discover one server; a summary for logs and the CLI. Never raises: an upstream fault, or
        anything unforeseen while reading its answer, marks that one server unhealthy (its tools
        hidden) and leaves the others and the refresher running."""
        attempts = self.attempts.setdefault(server.id, Attempts())
        attempts.last_attempt_at = self._clock.now()
        try:
            result = await self._refresh(server)
        except UpstreamFailure as exc:
            reason = str(exc)
            logger.warning("discovery of %s failed: %s", server.id, reason)
        except Exception as exc:  # a hostile answer we did not foresee must not stop the refresher
            reason = f"discovery of {server.id} failed: {type(exc).__name__}"
            logger.error("%s", reason)
        else:
            self._count(server.id, attempts, result)
            return result
        self._sources[server.kind].forget(server.id)
        self._catalog.mark_unhealthy(server.id, reason)
        result = {"server": server.id, "healthy": False, "reason": reason}
        self._count(server.id, attempts, result)
        return result

    def _count(self, server_id: str, attempts: Attempts, result: dict[str, Any]) -> None:
        if result["healthy"]:
            if attempts.consecutive_failures:
                self._audit.record("upstream_discovery", outcome="recovered", server=server_id)
            attempts.last_success_at, attempts.consecutive_failures = attempts.last_attempt_at, 0
            return
        attempts.consecutive_failures += 1
        if attempts.consecutive_failures == 1:
            reason = result.get("reason")
            self._audit.record("upstream_discovery", outcome="failed", server=server_id, reason=reason)

    def forget(self, server_id: str) -> None:
        """The server was removed from the registry: its tools leave the catalogue and its audience
        the exchange targets at once, so no call reaches it and no token is minted for it."""
        self._catalog.remove(server_id)
        self._targets.unregister(server_id)
        for source in self._sources.values():
            source.forget(server_id)
        self.attempts.pop(server_id, None)

    async def _refresh(self, registered: UpstreamServer) -> dict[str, Any]:
        listing = await self._sources[registered.kind].list_tools(registered)
        server, raw = listing.server, listing.tools
        found = await anyio.to_thread.run_sync(self._catalog.reader(server), raw)
        approved = await self._pins.settle(server, found[0]) if self._pins else None
        problems = self._catalog.replace(server, raw, approved, found)
        tool_scopes = {
            scope
            for tool in raw
            if isinstance(tool, dict)
            for scope in server.scopes_for(str(tool.get("name")))
        }
        self._targets.register(server.audience, {server.id, *tool_scopes}, owner=server.id)
        health = self._catalog.health().get(server.id)
        healthy = bool(health and health.healthy)
        return {
            "server": server.id,
            "healthy": healthy,
            "tools": len(raw) - len(problems),
            "skipped": [*listing.skipped, *problems],
            **({} if healthy or health is None else {"reason": health.reason}),
        }
