"""Where an upstream's tool definitions come from: the seam discovery asks, one source per kind.

* ``mcp``: :class:`McpToolSource`, ``tools/list`` (all pages) with a token minted for discovery;
* ``openapi``: :class:`~gateway.upstream.openapi_source.OpenApiToolSource`, the operations of the
  REST API's OpenAPI document.

Each answers with the definitions as an MCP ``tools/list`` would list them and the server as its
tools are to be served (a REST API's per-operation scopes come from its document), so
:class:`~gateway.upstream.discovery.Discovery` settles the pins and fills the catalogue the same
way for every kind: pinning, quarantine and screening apply identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from gateway.oauth.tokens.access_tokens import AccessTokenIssuer
from gateway.upstream.mcp_client import UpstreamClient
from gateway.upstream.transport import UpstreamFailure
from tools_registry.servers import UpstreamServer

DISCOVERY_SUBJECT = "mcp-gateway"
MAX_PAGES = 100
MAX_TOOLS_PER_SERVER = 5000
"""More tools than this from one upstream is refused as a whole (an upstream flooding the catalogue)."""


@dataclass(frozen=True)
class Listing:
    """One discovery's answer: the server as its tools are served, and their definitions."""

    server: UpstreamServer
    tools: list[Any]
    skipped: tuple[str, ...] = ()
    """What the source itself left out, and why (a REST operation that cannot be a tool)."""


class ToolSource(Protocol):
    async def list_tools(self, server: UpstreamServer) -> Listing:
        """The server's tools now; :class:`UpstreamFailure` (one line, no token) when it cannot tell."""
        ...

    def forget(self, server_id: str) -> None:
        """Drop what is known of the server (it failed, or was removed): start afresh next time."""
        ...


class McpToolSource:
    """An MCP server's ``tools/list``. The discovery token names the gateway itself as subject and
    client, is made for the upstream's audience only, carries no scope and lives one minute."""

    def __init__(self, client: UpstreamClient, issuer: AccessTokenIssuer) -> None:
        self._client = client
        self._issuer = issuer

    async def list_tools(self, server: UpstreamServer) -> Listing:
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
                return Listing(server, tools)
        raise UpstreamFailure(f"upstream {server.id} paginated tools/list past {MAX_PAGES} pages")

    def forget(self, server_id: str) -> None:
        self._client.forget(server_id)


__all__ = ["DISCOVERY_SUBJECT", "Listing", "McpToolSource", "ToolSource"]
