"""The console's access-request pages: the queue, one request, and its two decisions.

    GET  /admin                          the approval queue (and what was decided lately)
    GET  /admin/requests/{id}            one request: the facts, and the forms that decide it
    POST /admin/requests/{id}/approve    scope (repeated), duration + unit, note
    POST /admin/requests/{id}/deny       reason

Every read and every decision is the request desk's (and what a client holds, the grant desk's):
the page checks nothing the desk checks. What the desk refuses (the wrong role, a request the
person made, one decided already) is shown above the forms with its reason and status; a decision
taken answers 303 back to the request's page, which says what happened.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import paths
from gateway.approvals import Approvals
from gateway.approvals.requests import AccessRequest
from gateway.clock import Clock
from gateway.console import html, request_views
from gateway.console.access import LEAVING, Form, field, refusal
from gateway.console.queues import waiting_and_recent
from gateway.console.visitors import Visitor
from gateway.errors import InvalidRequest, OAuthError

MAX_DIGITS = 10
DONE = {
    "approved": "Approved: the grant is made, and the agent can ask for a token with these scopes now.",
    "voted": "Your approval is recorded. This request needs another approver before anything is granted.",
    "denied": "Denied: the agent is told, with your reason.",
}


class RequestPages:
    def __init__(self, approvals: Approvals, descriptions: Mapping[str, str], clock: Clock) -> None:
        self._requests = approvals.requests
        self._calls = approvals.calls
        self._grants = approvals.grants
        self._policy = approvals.policy
        self._descriptions = descriptions
        self._clock = clock

    async def queue(self, request: Request, visitor: Visitor) -> Response:
        now = self._clock.now()
        pending, decided = waiting_and_recent(await self._requests.list(), now)
        held = {client: await self._grants.held(client) for client in {r.client_id for r in pending}}
        held_calls = len(await self._calls.list("pending"))
        body = request_views.queue(
            pending, decided, held, self._descriptions, now, self._policy.version, held_calls
        )
        return html.page("Approval queue", body, person=visitor.header(), current=paths.CONSOLE)

    async def one(self, request: Request, visitor: Visitor) -> Response:
        found = await self._requests.get(request.path_params["request_id"])
        return await self._show(found, visitor, done=DONE.get(request.query_params.get("done", ""), ""))

    async def approve(self, request: Request, visitor: Visitor, form: Form) -> Response:
        found = await self._requests.get(request.path_params["request_id"])
        chosen = form.get("scope", [])
        if not chosen:  # the desk reads "no scopes" as "all of them": never what an empty form meant
            return await self._show(
                found, visitor, "Tick at least one scope to approve, or deny the request.", 400
            )
        try:
            decided = await self._requests.approve(
                found.request_id,
                visitor.principal,
                scopes=chosen,
                duration=_duration(field(form, "duration"), field(form, "unit")),
                note=field(form, "note"),
            )
        except OAuthError as exc:
            return await self._show(found, visitor, refusal(exc), exc.status_code)
        return _back_to(found, "approved" if decided.status == "approved" else "voted")

    async def deny(self, request: Request, visitor: Visitor, form: Form) -> Response:
        found = await self._requests.get(request.path_params["request_id"])
        try:
            await self._requests.deny(found.request_id, visitor.principal, field(form, "reason"))
        except OAuthError as exc:
            return await self._show(found, visitor, refusal(exc), exc.status_code)
        return _back_to(found, "denied")

    async def _show(
        self, found: AccessRequest, visitor: Visitor, message: str = "", status: int = 200, done: str = ""
    ) -> Response:
        latest = await self._requests.get(found.request_id)
        body = request_views.one(
            latest,
            held=await self._grants.held(latest.client_id),
            descriptions=self._descriptions,
            now=self._clock.now(),
            visitor=visitor,
            message=message,
            done=done,
        )
        return html.page(f"Request {latest.request_id}", body, status=status, person=visitor.header())


def _duration(amount: str, unit: str) -> int | None:
    """Seconds from the form's number and unit; None (the whole requested duration) when empty."""
    if not amount.strip():
        return None
    sizes = dict(request_views.UNITS)
    if not amount.strip().isdigit() or len(amount.strip()) > MAX_DIGITS or unit not in sizes:
        raise InvalidRequest("the duration must be a whole number of days, hours, minutes or seconds")
    return int(amount.strip()) * sizes[unit]


def _back_to(found: AccessRequest, done: str) -> Response:
    target = f"{request_views.request_path(found.request_id)}?done={done}"
    return RedirectResponse(target, status_code=303, headers=LEAVING)
