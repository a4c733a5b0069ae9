"""The console's held-call pages (AP-6): the list, one call, and its two decisions.

    GET  /admin/calls                   the calls waiting for a decision, then those decided lately
    GET  /admin/calls/{id}              one call: the tool, who called, the exact arguments; the
                                        page the agent sends its person or its approvers to
    POST /admin/calls/{id}/approve      note (optional)
    POST /admin/calls/{id}/deny         reason

Who reads a call: everyone holding a console role, and the person the agent made it for, who may
hold none (the approver when policy says ``call_approver = "person"``). To anyone else, a call made
for someone else and a call that does not exist are the same 403 page: nothing tells them which.

Who decides is the call desk's rule alone (:func:`gateway.approvals.call_desk.check_decider`): the
page asks the same rule which forms to offer, and the desk applies it again to what is posted. A
refusal is shown on the call's page with its reason and status; a decision taken answers 303 back
to the page, which says what happened.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import paths
from gateway.approvals.call_desk import CallDesk, check_decider
from gateway.approvals.held_calls import HeldCall
from gateway.clock import Clock
from gateway.console import call_views, html
from gateway.console.access import LEAVING, Form, field, no_role_page, refusal
from gateway.console.queues import waiting_and_recent
from gateway.console.visitors import Visitor
from gateway.errors import NotFound, OAuthError
from tools_registry.tool_entries import CatalogTool

DONE = {
    "approved": "Approved: the agent's identical call will be made once, if it comes within the window.",
    "denied": "Denied: the agent is told, with your reason.",
}

ToolLookup = Callable[[str], CatalogTool | None]


class CallPages:
    def __init__(self, desk: CallDesk, tools: ToolLookup, clock: Clock) -> None:
        self._desk = desk
        self._tools = tools
        self._clock = clock

    async def list(self, request: Request, visitor: Visitor) -> Response:
        now = self._clock.now()
        pending, decided = waiting_and_recent(await self._desk.list(), now)
        body = call_views.calls(pending, decided, now)
        return html.page("Held calls", body, person=visitor.header(), current=paths.CALL_PAGES)

    async def one(self, request: Request, visitor: Visitor) -> Response:
        call = await self._shown_to(visitor, request.path_params["call_id"])
        if call is None:
            return no_role_page(visitor)
        return await self._show(call, visitor, done=DONE.get(request.query_params.get("done", ""), ""))

    async def approve(self, request: Request, visitor: Visitor, form: Form) -> Response:
        call = await self._shown_to(visitor, request.path_params["call_id"])
        if call is None:
            return no_role_page(visitor)
        try:
            await self._desk.approve(call.call_id, visitor.principal, note=field(form, "note"))
        except OAuthError as exc:
            return await self._show(call, visitor, refusal(exc), exc.status_code)
        return _back_to(call, "approved")

    async def deny(self, request: Request, visitor: Visitor, form: Form) -> Response:
        call = await self._shown_to(visitor, request.path_params["call_id"])
        if call is None:
            return no_role_page(visitor)
        try:
            await self._desk.deny(call.call_id, visitor.principal, field(form, "reason"))
        except OAuthError as exc:
            return await self._show(call, visitor, refusal(exc), exc.status_code)
        return _back_to(call, "denied")

    async def _shown_to(self, visitor: Visitor, call_id: str) -> HeldCall | None:
        """The call, if ``visitor`` may read it. For a person holding a role a missing call is the
        desk's 404; for one holding none, it is None, like a call made for someone else."""
        if visitor.has_role:
            return await self._desk.get(call_id)
        try:
            call = await self._desk.get(call_id)
        except NotFound:
            return None
        return call if call.person is not None and call.person == visitor.name else None

    async def _show(
        self, call: HeldCall, visitor: Visitor, message: str = "", status: int = 200, done: str = ""
    ) -> Response:
        latest, now = await self._desk.get(call.call_id), self._clock.now()
        body = call_views.one(
            latest,
            tool=self._tools(latest.tool),
            now=now,
            visitor=visitor,
            offers=call_views.Offers(
                approve=_refused(latest, visitor, now, approving=True),
                deny=_refused(latest, visitor, now, approving=False),
            ),
            message=message,
            done=done,
        )
        return html.page(f"Call {latest.call_id}", body, status=status, person=visitor.header())


def _refused(call: HeldCall, visitor: Visitor, now: float, *, approving: bool) -> str | None:
    """What the desk's rule says to ``visitor`` deciding ``call`` now: None when it would allow it."""
    try:
        check_decider(call, visitor.principal, None, now, approving=approving)
    except OAuthError as exc:
        return f"{exc.description}."
    return None


def _back_to(call: HeldCall, done: str) -> Response:
    target = f"{call_views.call_path(call.call_id)}?done={done}"
    return RedirectResponse(target, status_code=303, headers=LEAVING)
