"""The console's grants pages: the list, and the two changes a security admin makes to a grant.

    GET  /admin/grants                    every grant: standing ones first, then approved ones
    POST /admin/grants/{id}/revoke        reason (AP-2: the grant and its live tokens end now)
    POST /admin/grants/{id}/review        note (AP-5: re-certified; the next review date moves on)

The grant desk decides who may do either (a security admin) and reads the records; a refusal is
shown above the list with its reason and status, and a change taken answers 303 back to the list,
at the grant's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import paths
from gateway.approvals import Approvals
from gateway.clock import Clock
from gateway.console import grant_views, html
from gateway.console.access import LEAVING, Form, field, refusal
from gateway.console.visitors import Visitor
from gateway.errors import OAuthError

DONE = {
    "revoked": (
        "Revoked: the grant allows nothing more, and every live token that carries it has stopped working."
    ),
    "reviewed": "Re-certified: the grant's next review date has moved on.",
}


class GrantPages:
    def __init__(self, approvals: Approvals, descriptions: Mapping[str, str], clock: Clock) -> None:
        self._grants = approvals.grants
        self._suspend_overdue = approvals.policy.suspend_overdue
        self._descriptions = descriptions
        self._clock = clock

    async def list(self, request: Request, visitor: Visitor) -> Response:
        return await self._show(visitor, done=DONE.get(request.query_params.get("done", ""), ""))

    async def revoke(self, request: Request, visitor: Visitor, form: Form) -> Response:
        grant_id = request.path_params["grant_id"]
        try:
            await self._grants.revoke(grant_id, visitor.principal, field(form, "reason"))
        except OAuthError as exc:
            return await self._show(visitor, refusal(exc), exc.status_code)
        return _back_to(grant_id, "revoked")

    async def review(self, request: Request, visitor: Visitor, form: Form) -> Response:
        grant_id = request.path_params["grant_id"]
        try:
            await self._grants.review(grant_id, visitor.principal, field(form, "note"))
        except OAuthError as exc:
            return await self._show(visitor, refusal(exc), exc.status_code)
        return _back_to(grant_id, "reviewed")

    async def _show(self, visitor: Visitor, message: str = "", status: int = 200, done: str = "") -> Response:
        body = grant_views.grants(
            await self._grants.list(),
            descriptions=self._descriptions,
            now=self._clock.now(),
            suspend_overdue=self._suspend_overdue,
            visitor=visitor,
            message=message,
            done=done,
        )
        return html.page("Grants", body, status=status, person=visitor.header(), current=paths.CONSOLE_GRANTS)


def _back_to(grant_id: str, done: str) -> Response:
    target = f"{paths.CONSOLE_GRANTS}?done={done}#{quote(grant_id, safe='')}"
    return RedirectResponse(target, status_code=303, headers=LEAVING)
