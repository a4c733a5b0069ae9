"""Tool state for the people who author and keep tools (any role reads):

    GET /admin/tools                       (its top part) what waits for approval, and each server
    GET /admin/tools/servers/{server_id}   every tool of one server: state, scopes, pin, recent calls

The catalogue, its health report, the server registry and the pin book are read as they are; the
24-hour call counts come from the audit trail (:func:`~gateway.console.trail_usage.tool_usage`),
exactly as the tools page counts them. Nothing here changes anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from gateway import paths
from gateway.approvals.decisions import Principal
from gateway.audit.store import AuditStore
from gateway.clock import Clock
from gateway.console import html
from gateway.console.pin_shelf import PinShelf
from gateway.console.server_form_views import done_notice, server_actions
from gateway.console.server_tool_views import server_page, servers_overview
from gateway.console.tool_states import ServerTools, tool_states
from gateway.console.trail_usage import tool_usage
from gateway.console.visitors import Visitor
from gateway.errors import NotFound
from tools_registry.catalog import Catalog
from tools_registry.server_registry import ServerRegistry


class ToolStatePages:
    def __init__(
        self,
        catalog: Catalog,
        servers: ServerRegistry,
        shelf: PinShelf,
        trail: AuditStore,
        clock: Clock,
        *,
        separator: str,
        descriptions: Mapping[str, str],
        may_change: Callable[[Principal, str], Awaitable[bool]] | None = None,
    ) -> None:
        """``may_change``: the registration service's answer to whether someone may change a
        server (:meth:`~gateway.upstream.registration.Registrations.may_change`), to offer its forms."""
        self._catalog = catalog
        self._servers = servers
        self._shelf = shelf
        self._trail = trail
        self._clock = clock
        self._separator = separator
        self._descriptions = descriptions
        self._may_change = may_change

    async def overview(self, visitor: Visitor, done: str = "") -> str:
        """The top of the tools page: the link to what waits, with its count, and the servers, with
        the link to register one for those who may (``done``: a server just removed)."""
        pending, rejected = await self._shelf.waiting()
        servers = await self._servers.list_servers()
        top = server_actions("", changes=False) if visitor.may_act else ""
        listed = servers_overview(servers, self._catalog.health(), pending, rejected, top)
        return done_notice(done) + listed

    async def server(self, request: Request, visitor: Visitor) -> Response:
        server_id = request.path_params["server_id"]
        pins, pending = await self._shelf.of_server(server_id)
        found = ServerTools(
            server_id,
            await self._servers.get(server_id),
            self._catalog.health().get(server_id),
            [tool for tool in self._catalog.tools() if tool.server_id == server_id],
            pins,
            pending,
        )
        if not found.known:
            raise NotFound(f"no upstream server {server_id!r} is registered or on record")
        usage = await tool_usage(self._trail, self._clock.now())
        states = tool_states(found, usage, self._separator)
        top = done_notice(request.query_params.get("done", ""), found.server.pinning if found.server else "")
        if visitor.may_act:
            top += server_actions(server_id, changes=await self._changes(visitor, found))
        body = server_page(found, states, usage, self._descriptions, top)
        return html.page(f"Server {server_id}", body, person=visitor.header(), current=paths.CONSOLE_TOOLS)

    async def _changes(self, visitor: Visitor, found: ServerTools) -> bool:
        """Whether the page offers to change and remove the server: one kept in the store (one of
        the config file is changed there) that the registration service lets ``visitor`` change."""
        if found.server is None or found.server.source != "store" or self._may_change is None:
            return False
        return await self._may_change(visitor.principal, found.server_id)
