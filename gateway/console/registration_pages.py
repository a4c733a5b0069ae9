"""The console's pages for registering, changing and removing upstream servers (AD-9, AD-10).

    GET|POST /admin/tools/register                   the form; a server registered goes to its page
    GET|POST /admin/tools/servers/{id}/edit          its fields, changed (the members shown replace)
    GET|POST /admin/tools/servers/{id}/remove        a confirmation, then the removal

A tool author and a security admin are offered these; an auditor is not. Every decision is the
registration service's (:class:`~gateway.upstream.registration.Registrations`), the one the CLI
and the admin API call, so the audit events are the same: someone who may not change a namespace
is handed to the service as they are, which refuses (403) and records who asked, and whatever the
service refuses is shown above the form with the text that was typed, with its status.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import paths
from gateway.console import html
from gateway.console.access import LEAVING, Form, refusal, refused_page
from gateway.console.pending_views import server_path
from gateway.console.server_form_views import Shown, edit_page, register_page, remove_page
from gateway.console.server_forms import Values, fields_of, values_from, values_of
from gateway.console.visitors import Visitor
from gateway.errors import Conflict, Forbidden, OAuthError
from gateway.upstream.registration import Registrations
from gateway.upstream.registration_rules import KEEPER

NOT_YOURS = (
    "Only the owners of this namespace (tool authors a security admin granted it to) and security "
    "admins change its server."
)


class RegistrationPages:
    def __init__(self, service: Registrations) -> None:
        self._service = service

    async def register_form(self, request: Request, visitor: Visitor) -> Response:
        if not visitor.may_act:
            return refused_page("Only a tool author or a security admin registers a server.", 403, visitor)
        return await self._register_page(visitor, {})

    async def register(self, request: Request, visitor: Visitor, form: Form) -> Response:
        values, by = values_of(form), visitor.principal
        try:
            if not await self._service.may_change(by, values["id"]):
                await self._service.register({"id": values["id"]}, by)  # refused, and recorded, there
            added = await self._service.register(fields_of(values, form, keeper=by.holds(KEEPER)), by)
        except OAuthError as exc:
            if not visitor.may_act:
                return refused_page(refusal(exc), exc.status_code, visitor)
            return await self._register_page(visitor, values, refusal(exc), exc.status_code)
        return _to(server_path(added.id), "registered")

    async def edit_form(self, request: Request, visitor: Visitor) -> Response:
        server_id = await self._changeable(request, visitor)
        server, _ = await self._service.one(server_id)
        return self._edit_page(visitor, server_id, values_from(server))

    async def edit(self, request: Request, visitor: Visitor, form: Form) -> Response:
        server_id, by = request.path_params["server_id"], visitor.principal
        values = values_of(form) | {"id": server_id}
        allowed = await self._service.may_change(by, server_id)
        try:
            if not allowed:
                await self._service.update(server_id, {}, by)  # refused, and recorded, there
            changes = fields_of(values, form, keeper=by.holds(KEEPER), editing=True)
            await self._service.update(server_id, changes, by)
        except OAuthError as exc:
            if not allowed or exc.status_code in (404, 409):  # no form to show again
                return refused_page(refusal(exc), exc.status_code, visitor)
            return self._edit_page(visitor, server_id, values, refusal(exc), exc.status_code)
        return _to(server_path(server_id), "changed")

    async def remove_form(self, request: Request, visitor: Visitor) -> Response:
        server_id = await self._changeable(request, visitor)
        body = remove_page(server_id, visitor.csrf)
        return html.page(f"Remove {server_id}", body, person=visitor.header(), current=paths.CONSOLE_TOOLS)

    async def remove(self, request: Request, visitor: Visitor, form: Form) -> Response:
        server_id = request.path_params["server_id"]
        try:
            await self._service.remove(server_id, visitor.principal)
        except OAuthError as exc:
            return refused_page(refusal(exc), exc.status_code, visitor)
        return _to(paths.CONSOLE_TOOLS, "removed")

    async def _changeable(self, request: Request, visitor: Visitor) -> str:
        """The server named in the path, when ``visitor`` may change it (404, 403, 409 otherwise:
        the page is not offered, as the server's page offers no link to it)."""
        server_id: str = request.path_params["server_id"]
        server, _ = await self._service.one(server_id)
        if not await self._service.may_change(visitor.principal, server_id):
            raise Forbidden(NOT_YOURS)
        if server.source == "config":
            raise Conflict(f"server {server_id!r} is defined in the config file; change it there")
        return server_id

    async def _register_page(
        self, visitor: Visitor, values: Values, message: str = "", status: int = 200
    ) -> Response:
        by = visitor.principal
        namespaces = None if by.holds(KEEPER) else await self._free_namespaces(by.subject)
        shown = Shown(visitor.csrf, by.holds(KEEPER), namespaces, message)
        body = register_page(values, shown)
        return html.page(
            "Register a server", body, status=status, person=visitor.header(), current=paths.CONSOLE_TOOLS
        )

    def _edit_page(
        self, visitor: Visitor, server_id: str, values: Values, message: str = "", status: int = 200
    ) -> Response:
        shown = Shown(visitor.csrf, visitor.principal.holds(KEEPER), None, message)
        body = edit_page(server_id, values, shown)
        title = f"Change {server_id}"
        return html.page(title, body, status=status, person=visitor.header(), current=paths.CONSOLE_TOOLS)

    async def _free_namespaces(self, person: str) -> list[str]:
        """The namespaces ``person`` owns that hold no server yet: where they may register."""
        taken = {server.id.lower() for server, _ in await self._service.list()}
        owned = await self._service.owners()
        return [ns for ns, owners in owned.items() if person in owners and ns.lower() not in taken]


def _to(path: str, done: str) -> Response:
    return RedirectResponse(f"{path}?done={done}", status_code=303, headers=LEAVING)
