"""Discovering each upstream's tools: ``tools/list`` (all pages) with a token minted for discovery.

The discovery token names the gateway itself as subject and client, is made for the upstream's
audience only, carries no scope and lives one minute. An upstream that fails or answers garbage
is marked unhealthy and logged; the rest of the catalogue keeps serving. Each answer's tool
definitions are settled against the pins (:mod:`gateway.upstream.pin_keeper`, TP-2) before the
catalogue takes it, so it serves only approved definitions; a store that cannot tell the pins
makes that discovery fail (its tools hidden), never serves an unreviewed definition.
:mod:`gateway.upstream.refresher` repeats discovery when each server is due.

Each server's attempts are kept in :class:`Attempts` (this replica's memory) for the operators'
health report; a server's first failure after a success, and its recovery, are audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.oauth.tokens.access_tokens import AccessTokenIssuer
from gateway.oauth.tokens.audiences import Targets
from gateway.upstream.mcp_client import UpstreamClient
from gateway.upstream.pin_keeper import PinKeeper
from gateway.upstream.transport import UpstreamFailure
from tools_registry.catalog import Catalog
from tools_registry.servers import UpstreamServer

logger = logging.getLogger("mcp_gateway.discovery")
DISCOVERY_SUBJECT = "mcp-gateway"
MAX_PAGES = 100
MAX_TOOLS_PER_SERVER = 5000
"""More tools than this from one upstream is refused as a whole (an upstream flooding the catalogue)."""


@dataclass
class Attempts:
    """This replica's discoveries of one server; times are seconds since the epoch."""

    last_attempt_at: float | None = None
    last_success_at: float | None = None
    consecutive_failures: int = 0


class Discovery:
    def __init__(
        self,
        client: UpstreamClient,
        issuer: AccessTokenIssuer,
        catalog: Catalog,
        targets: Targets,
        *,
        clock: Clock,
        audit: AuditLog,
        pins: PinKeeper | None = None,
    ) -> None:
        """``pins``: settles each answer's definitions against the pins (TP-2); None serves every
        tool an upstream lists (tests of parts that do not care)."""
        self._client = client
        self._issuer = issuer
        self._catalog = catalog
        self._targets = targets
        self._clock = clock
        self._audit = audit
        self._pins = pins
        self.attempts: dict[str, Attempts] = {}

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
            answer = await self._client.request(server, token.token, DISCOVERY_SUBJECT, "tools/list", params)
            result = answer.get("result")
            if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
                raise UpstreamFailure(f"upstream {server.id} answered tools/list without a tools array")
            tools.extend(result["tools"])
            if len(tools) > MAX_TOOLS_PER_SERVER:
                raise UpstreamFailure(f"upstream {server.id} listed more than {MAX_TOOLS_PER_SERVER} tools")
            cursor = result.get("nextCursor")
            if not isinstance(cursor, str) or not cursor:
                return tools
        raise UpstreamFailure(f"upstream {server.id} paginated tools/list past {MAX_PAGES} pages")

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
        self._client.forget(server.id)
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
        self._client.forget(server_id)
        self.attempts.pop(server_id, None)

    async def _refresh(self, server: UpstreamServer) -> dict[str, Any]:
        raw = await self.list_tools(server)
        approved = await self._pins.settle(server, self._catalog.read(server, raw)) if self._pins else None
        problems = self._catalog.replace(server, raw, approved)
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
            "skipped": problems,
            **({} if healthy or health is None else {"reason": health.reason}),
        }
