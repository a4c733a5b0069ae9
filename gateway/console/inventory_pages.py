"""The console's pages of who can do what, and the two changes a security admin makes from them.

    GET  /admin/clients                  every client: grants, last use, live tokens
    POST /admin/clients/revoke-grant     grant_id, reason (AP-2, through the grant desk)
    POST /admin/clients/revoke-tokens    client_id, reason: every token of the client ends now (RV-2)
    GET  /admin/tools                    every catalogued tool: scopes, upstream, callers, calls
    GET  /admin/access-graph             client -> grants -> upstreams -> tools

Every role reads (AD-7). Only a security admin changes anything: the pages show an auditor (and a
tool author) no form, and a POST from one is refused with the 403 page and recorded (the event the
change would have made, outcome ``refused``). A change taken is recorded with who made it and
answers 303 back to the client's card. Revoking a client's tokens moves its not-before mark
(:class:`~gateway.oauth.tokens.not_before.NotBeforeMarks`), exactly as removing the client does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import paths
from gateway.approvals import Approvals
from gateway.approvals.decisions import MAX_NOTE, checked_text
from gateway.approvals.grant_desk import SECURITY_ADMIN
from gateway.audit import AuditLog
from gateway.audit.store import AuditStore
from gateway.clock import Clock
from gateway.console import html
from gateway.console.access import LEAVING, Form, field, refusal, refused_page
from gateway.console.client_views import Shown, anchor, clients_page
from gateway.console.grants_pages import DONE as GRANT_DONE
from gateway.console.holdings import Inventory
from gateway.console.tool_views import access_graph, tools_page
from gateway.console.trail_usage import client_usage, tool_usage
from gateway.console.visitors import Visitor
from gateway.errors import NotFound, OAuthError
from gateway.oauth.tokens.not_before import NotBeforeMarks

KEEPER = SECURITY_ADMIN
DONE = {
    "grant": GRANT_DONE["revoked"],
    "tokens": "Revoked: every token issued to the client before now has stopped working.",
}


@dataclass(frozen=True)
class Sources:
    """Where the pages read from and write to."""

    inventory: Inventory
    approvals: Approvals
    marks: NotBeforeMarks
    audit: AuditLog
    trail: AuditStore
    clock: Clock
    token_lifetime: float
    descriptions: Mapping[str, str]
    tool_overview: Callable[[Visitor, str], Awaitable[str]] | None = None
    """What the tools page says first, to whom, after what (``?done=``): what waits for approval
    and each server's state."""


class InventoryPages:
    def __init__(self, sources: Sources) -> None:
        self._s = sources

    async def clients(self, request: Request, visitor: Visitor) -> Response:
        return await self._clients(visitor, done=DONE.get(request.query_params.get("done", ""), ""))

    async def tools(self, request: Request, visitor: Visitor) -> Response:
        s = self._s
        holdings = await s.inventory.holdings()
        usage = await tool_usage(s.trail, s.clock.now())
        catalog = s.inventory.catalog
        done = request.query_params.get("done", "")
        overview = await s.tool_overview(visitor, done) if s.tool_overview is not None else ""
        body = tools_page(catalog.tools(), holdings, usage, catalog.health(), s.descriptions, overview)
        return html.page("Tools", body, person=visitor.header(), current=paths.CONSOLE_TOOLS)

    async def graph(self, request: Request, visitor: Visitor) -> Response:
        holdings = await self._s.inventory.holdings()
        body = access_graph(holdings, self._s.clock.now(), self._s.approvals.policy.suspend_overdue)
        return html.page("Access graph", body, person=visitor.header(), current=paths.CONSOLE_ACCESS_GRAPH)

    async def revoke_grant(self, request: Request, visitor: Visitor, form: Form) -> Response:
        grant_id, reason = field(form, "grant_id"), field(form, "reason")
        if not visitor.principal.holds(KEEPER):
            self._s.audit.record("grant_revoked", outcome="refused", grant_id=grant_id, **_refusal(visitor))
            return _refused_page(visitor)
        try:
            grant = await self._s.approvals.grants.revoke(grant_id, visitor.principal, reason)
        except OAuthError as exc:
            return await self._clients(visitor, refusal(exc), exc.status_code)
        return _back_to(grant.client_id, "grant")

    async def revoke_tokens(self, request: Request, visitor: Visitor, form: Form) -> Response:
        client_id, reason = field(form, "client_id"), field(form, "reason")
        if not visitor.principal.holds(KEEPER):
            self._s.audit.record(
                "client_tokens_revoked", outcome="refused", client_id=client_id, **_refusal(visitor)
            )
            return _refused_page(visitor)
        try:
            text = checked_text(reason, "reason", MAX_NOTE, required=True)
            if not await self._s.inventory.known(client_id):
                raise NotFound("no such client")
        except OAuthError as exc:
            return await self._clients(visitor, refusal(exc), exc.status_code)
        await self._s.marks.revoke_client_tokens(client_id)
        await self._s.audit.durable(
            "client_tokens_revoked", outcome="revoked", client_id=client_id, by=visitor.name, reason=text
        )
        return _back_to(client_id, "tokens")

    async def _clients(
        self, visitor: Visitor, message: str = "", status: int = 200, done: str = ""
    ) -> Response:
        s = self._s
        now = s.clock.now()
        holdings = await s.inventory.holdings()
        usage = await client_usage(s.trail, s.marks, now, s.token_lifetime)
        shown = Shown(
            visitor, s.descriptions, now, s.approvals.policy.suspend_overdue, visitor.principal.holds(KEEPER)
        )
        body = clients_page(holdings, usage, shown, message, done)
        return html.page(
            "Clients", body, status=status, person=visitor.header(), current=paths.CONSOLE_CLIENTS
        )


def _refusal(visitor: Visitor) -> dict[str, str]:
    """AD-7: what the record of a change refused to someone who may not make it says."""
    return {"by": visitor.name, "reason": f"needs the {KEEPER} role"}


def _refused_page(visitor: Visitor) -> Response:
    return refused_page(f"Only a {KEEPER} may revoke. Nothing was changed.", 403, visitor)


def _back_to(client_id: str, done: str) -> Response:
    target = f"{paths.CONSOLE_CLIENTS}?done={done}#{quote(anchor(client_id), safe='')}"
    return RedirectResponse(target, status_code=303, headers=LEAVING)
