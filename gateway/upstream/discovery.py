"""Discovering each upstream's tools: ``tools/list`` (all pages) with a token minted for discovery.

The discovery token names the gateway itself as subject and client, is made for the upstream's
audience only, carries no scope and lives one minute. An upstream that fails or answers garbage
is marked unhealthy and logged; the rest of the catalogue keeps serving. ``Refresher`` repeats
discovery on each server's interval.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import anyio

from gateway.oauth.tokens.access_tokens import AccessTokenIssuer
from gateway.oauth.tokens.audiences import Targets
from gateway.upstream.mcp_client import UpstreamClient
from gateway.upstream.transport import UpstreamFailure
from tools_registry.catalog import Catalog
from tools_registry.servers import UpstreamServer

logger = logging.getLogger("mcp_gateway.discovery")
DISCOVERY_SUBJECT = "mcp-gateway"
MAX_PAGES = 100


class Discovery:
    def __init__(
        self, client: UpstreamClient, issuer: AccessTokenIssuer, catalog: Catalog, targets: Targets
    ) -> None:
        self._client = client
        self._issuer = issuer
        self._catalog = catalog
        self._targets = targets

    async def list_tools(self, server: UpstreamServer) -> list[Any]:
        token = await self._issuer.issue(
            subject=DISCOVERY_SUBJECT,
            client_id=DISCOVERY_SUBJECT,
            audience=server.audience,
            scopes=(),
            lifetime=60,
        )
        tools: list[Any] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params = {"cursor": cursor} if cursor else {}
            answer = await self._client.request(
                server.id, server.url, server.timeout, token.token, DISCOVERY_SUBJECT, "tools/list", params
            )
            result = answer.get("result")
            if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
                raise UpstreamFailure(f"upstream {server.id} answered tools/list without a tools array")
            tools.extend(result["tools"])
            cursor = result.get("nextCursor")
            if not isinstance(cursor, str) or not cursor:
                return tools
        raise UpstreamFailure(f"upstream {server.id} paginated tools/list past {MAX_PAGES} pages")

    async def refresh(self, server: UpstreamServer) -> dict[str, Any]:
        """Discover one server; a summary for logs and the CLI (never raises for upstream faults)."""
        try:
            raw = await self.list_tools(server)
        except UpstreamFailure as exc:
            self._client.forget(server.id)
            self._catalog.mark_unhealthy(server.id, str(exc))
            logger.warning("discovery of %s failed: %s", server.id, exc)
            return {"server": server.id, "healthy": False, "reason": str(exc)}
        problems = self._catalog.replace(server, raw)
        tool_scopes = {
            scope
            for tool in raw
            if isinstance(tool, dict)
            for scope in server.scopes_for(str(tool.get("name")))
        }
        self._targets.register(server.audience, {server.id, *tool_scopes}, owner=server.id)
        health = self._catalog.health().get(server.id)
        return {
            "server": server.id,
            "healthy": bool(health and health.healthy),
            "tools": len(raw) - len(problems),
            "skipped": problems,
        }


class Refresher:
    """Re-discovers every server on its ``refresh_interval``, at once when ``tools refresh`` asks or
    the upstream announced ``notifications/tools/list_changed``, and drops the tools of servers
    that were removed; runs until cancelled."""

    def __init__(
        self,
        discovery: Discovery,
        servers: Any,
        catalog: Any,
        store: Any,
        list_changed: set[str],
        tick: float = 1.0,
    ) -> None:
        self._discovery = discovery
        self._list_changed = list_changed
        self._servers = servers
        self._catalog = catalog
        self._store = store
        self._tick = tick

    async def run(self) -> None:
        due: dict[str, float] = {}
        last_request: str | None = None
        while True:
            try:
                request = await self._store.get(REFRESH_REQUESTED)
                if request != last_request:
                    due.clear()
                    last_request = request
                servers = await self._servers.list_servers()
            except Exception as exc:  # the store is down: keep serving what is known
                logger.warning("tool catalogue refresh skipped: %s", type(exc).__name__)
                await anyio.sleep(self._tick)
                continue
            now = anyio.current_time()
            while self._list_changed:  # an upstream said notifications/tools/list_changed
                due[self._list_changed.pop()] = 0.0
            for gone in set(due) - {server.id for server in servers}:
                self._catalog.remove(gone)
                del due[gone]
            for server in servers:
                if due.get(server.id, 0.0) <= now:
                    await self._discovery.refresh(server)
                    due[server.id] = now + server.refresh_interval
            await anyio.sleep(self._tick)


REFRESH_REQUESTED = "tools-refresh-requested"


class Refreshable(Protocol):
    """What ``refresh_tools`` needs of the wired gateway (``gateway.app.Gateway``)."""

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
