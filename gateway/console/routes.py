"""The console's HTTP face, built from the wired parts: the security team's pages under ``/admin``.

    GET  /admin                                  the approval queue
    GET  /admin/requests/{id}                    one access request and its decision forms
    POST /admin/requests/{id}/approve|deny
    GET  /admin/grants                           the grants, with revoke and review forms
    POST /admin/grants/{id}/revoke|review
    GET  /admin/calls                            the held tool calls (AP-6)
    GET  /admin/calls/{id}                       one held call; also for the person it was made for
    POST /admin/calls/{id}/approve|deny
    GET  /admin/clients                          every client: grants, last use, live tokens (AD-7)
    POST /admin/clients/revoke-grant|revoke-tokens
    GET  /admin/tools                            what waits, each server, every catalogued tool with its
                                                 scopes, upstream, callers and calls
    GET  /admin/tools/servers/{id}               one server's tools: state, scopes, pin, recent calls
    GET|POST /admin/tools/register               register an upstream server (AD-9)
    GET|POST /admin/tools/servers/{id}/edit      change it; …/remove: a confirmation, then remove it
    GET  /admin/tools/pending                    tool definitions waiting for approval (TP-5)
    GET  /admin/tools/pending/{server}/{tool}    one definition against its pin; decision forms (AD-8)
    POST /admin/tools/pending/{server}/{tool}/approve|reject
    GET  /admin/access-graph                     client -> grants -> upstreams -> tools
    GET  /admin/audit                            the audit search, for auditors and security admins
    GET|POST /admin/sign-in, POST /admin/sign-in/federated, POST /admin/sign-out
    anything else under /admin                   a 404 page

``/admin/api`` is not here: the admin API is dispatched ahead of the router
(:class:`~gateway.admin.boundary.AdminRoute`), so none of these routes ever sees its paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gateway import builders, paths
from gateway.console.access import LEAVING, Access, not_found
from gateway.console.audit_pages import AuditPages
from gateway.console.calls_pages import CallPages
from gateway.console.client_views import REVOKE_GRANT, REVOKE_TOKENS
from gateway.console.grants_pages import GrantPages
from gateway.console.holdings import Inventory
from gateway.console.inventory_pages import InventoryPages, Sources
from gateway.console.pending_pages import PendingPages
from gateway.console.pin_shelf import PinShelf
from gateway.console.registration_pages import RegistrationPages
from gateway.console.requests_pages import RequestPages
from gateway.console.sign_in import ConsoleSignIn
from gateway.console.tool_state_pages import ToolStatePages
from gateway.console.visitors import Visitors
from gateway.oauth.routes import password_sign_in
from gateway.upstream.pin_records import PinBook

if TYPE_CHECKING:
    from gateway.composition import Gateway


def console_routes(gateway: Gateway) -> list[BaseRoute]:
    descriptions = gateway.settings.sign_in.scope_descriptions
    access = Access(Visitors(gateway.browser, gateway.users))
    requests = RequestPages(gateway.approvals, descriptions, gateway.clock)
    grants = GrantPages(gateway.approvals, descriptions, gateway.clock)
    calls = CallPages(gateway.approvals.calls, gateway.catalog.lookup, gateway.clock)
    shelf = PinShelf(PinBook(gateway.store))
    pending = PendingPages(gateway.pins, shelf, gateway.clock)
    registrations = builders.registrations(gateway)
    servers = RegistrationPages(registrations)
    tool_states = ToolStatePages(
        gateway.catalog,
        gateway.servers,
        shelf,
        gateway.audit_trail.store,
        gateway.clock,
        separator=gateway.settings.mcp.tool_namespace_separator,
        descriptions=descriptions,
        may_change=registrations.may_change,
    )
    inventory = InventoryPages(
        Sources(
            inventory=Inventory(gateway.clients, gateway.approvals.grants, gateway.marks, gateway.catalog),
            approvals=gateway.approvals,
            marks=gateway.marks,
            audit=gateway.audit,
            trail=gateway.audit_trail.store,
            clock=gateway.clock,
            token_lifetime=gateway.settings.tokens.access_token_ttl,
            descriptions=descriptions,
            tool_overview=tool_states.overview,
        )
    )
    audit = AuditPages(gateway.audit_trail.store, gateway.clock)
    sign_in = ConsoleSignIn(gateway.browser, password_sign_in(gateway), gateway.federation)
    one_request = paths.CONSOLE_REQUESTS + "/{request_id}"
    one_grant = paths.CONSOLE_GRANTS + "/{grant_id}"
    one_call = paths.CALL_PAGES + "/{call_id}"
    one_definition = paths.CONSOLE_TOOLS_PENDING + "/{server_id}/{tool}"
    one_server = paths.CONSOLE_TOOLS + "/servers/{server_id}"

    async def to_the_queue(request: Request) -> Response:
        return RedirectResponse(paths.CONSOLE, status_code=303, headers=LEAVING)

    return [
        Route(paths.CONSOLE, access.page(requests.queue), methods=["GET"]),
        Route(paths.CONSOLE + "/", to_the_queue, methods=["GET"]),
        Route(paths.CONSOLE_SIGN_IN, sign_in.form, methods=["GET"]),
        Route(paths.CONSOLE_SIGN_IN, sign_in.sign_in, methods=["POST"]),
        *(
            [Route(paths.CONSOLE_FEDERATED, sign_in.federated, methods=["POST"])]
            if gateway.federation
            else []
        ),
        Route(paths.CONSOLE_SIGN_OUT, access.form(sign_in.sign_out, role_needed=False), methods=["POST"]),
        Route(one_request, access.page(requests.one), methods=["GET"]),
        Route(one_request + "/approve", access.form(requests.approve), methods=["POST"]),
        Route(one_request + "/deny", access.form(requests.deny), methods=["POST"]),
        Route(paths.CONSOLE_GRANTS, access.page(grants.list), methods=["GET"]),
        Route(one_grant + "/revoke", access.form(grants.revoke), methods=["POST"]),
        Route(one_grant + "/review", access.form(grants.review), methods=["POST"]),
        Route(paths.CALL_PAGES, access.page(calls.list), methods=["GET"]),
        Route(paths.CONSOLE_CLIENTS, access.page(inventory.clients), methods=["GET"]),
        Route(REVOKE_GRANT, access.form(inventory.revoke_grant), methods=["POST"]),
        Route(REVOKE_TOKENS, access.form(inventory.revoke_tokens), methods=["POST"]),
        Route(paths.CONSOLE_TOOLS, access.page(inventory.tools), methods=["GET"]),
        Route(one_server, access.page(tool_states.server), methods=["GET"]),
        Route(paths.CONSOLE_TOOLS_REGISTER, access.page(servers.register_form), methods=["GET"]),
        Route(paths.CONSOLE_TOOLS_REGISTER, access.form(servers.register), methods=["POST"]),
        Route(one_server + "/edit", access.page(servers.edit_form), methods=["GET"]),
        Route(one_server + "/edit", access.form(servers.edit), methods=["POST"]),
        Route(one_server + "/remove", access.page(servers.remove_form), methods=["GET"]),
        Route(one_server + "/remove", access.form(servers.remove), methods=["POST"]),
        Route(paths.CONSOLE_TOOLS_PENDING, access.page(pending.list), methods=["GET"]),
        Route(one_definition, access.page(pending.one), methods=["GET"]),
        Route(one_definition + "/approve", access.form(pending.approve), methods=["POST"]),
        Route(one_definition + "/reject", access.form(pending.reject), methods=["POST"]),
        Route(paths.CONSOLE_ACCESS_GRAPH, access.page(inventory.graph), methods=["GET"]),
        Route(paths.CONSOLE_AUDIT, access.page(audit.search), methods=["GET"]),
        Route(one_call, access.page(calls.one, role_needed=False), methods=["GET"]),
        Route(one_call + "/approve", access.form(calls.approve, role_needed=False), methods=["POST"]),
        Route(one_call + "/deny", access.form(calls.deny, role_needed=False), methods=["POST"]),
        Route(paths.CONSOLE + "/{rest:path}", not_found, methods=["GET", "POST"]),
    ]
