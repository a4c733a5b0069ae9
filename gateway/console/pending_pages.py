"""The console's pages of pending tool definitions (TP-5, AD-8): the list, one definition, and its
two decisions.

    GET  /admin/tools/pending                          what waits, then what was rejected
    GET  /admin/tools/pending/{server}/{tool}          the definition against its pin, as a diff
    POST /admin/tools/pending/{server}/{tool}/approve  hash, note (optional)
    POST /admin/tools/pending/{server}/{tool}/reject   hash, reason

Every role reads. Deciding is the pin desk's rule alone
(:class:`~gateway.upstream.pin_desk.PinDesk`): only a security admin, and only the definition of
the hash they reviewed. The page offers the forms to a security admin only, and whatever is posted
goes to the desk, which applies the rule again and records a refusal as it does for the CLI and the
admin API: a tool author's forged or replayed form is refused there (403), recorded, and shown. A
definition that changed since the page was read is refused (409) and shown again, new hash and all.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.clock import Clock
from gateway.console import html
from gateway.console.access import LEAVING, Form, field, refusal, refused_page
from gateway.console.pending_views import (
    DECIDER,
    PENDING,
    Reviewed,
    Viewer,
    definition_page,
    definition_path,
    pending_list,
)
from gateway.console.pin_shelf import PinShelf
from gateway.console.visitors import Visitor
from gateway.errors import InvalidRequest, NotFound, OAuthError
from gateway.upstream.pin_desk import PinDesk
from tools_registry.pins import definition_diff

HASH = re.compile(r"[0-9a-f]{64}")
DONE = {
    "approved": "Approved: the definition is pinned and the tool serves again, here at once and at "
    "every replica within about a second.",
    "rejected": "Rejected: the tool stays out of the catalogue while its upstream serves this definition.",
}
AUTHOR_READS = (
    "A security admin decides this definition. Tool authors read what waits, and never approve a "
    "definition, their own tools' included."
)
READER_READS = "You can read this definition; a security admin decides it."


class PendingPages:
    def __init__(self, desk: PinDesk, shelf: PinShelf, clock: Clock) -> None:
        self._desk = desk
        self._shelf = shelf
        self._clock = clock

    async def list(self, request: Request, visitor: Visitor) -> Response:
        pending, rejected = await self._shelf.waiting()
        body = html.notice(DONE.get(request.query_params.get("done", ""), ""), "done")
        body += pending_list(pending, rejected, self._clock.now())
        title = f"Pending definitions ({len(pending)})"
        return html.page(title, body, person=visitor.header(), current=PENDING)

    async def one(self, request: Request, visitor: Visitor) -> Response:
        server_id, tool = _named(request)
        done = DONE.get(request.query_params.get("done", ""), "")
        return await self._show(server_id, tool, visitor, done=done)

    async def approve(self, request: Request, visitor: Visitor, form: Form) -> Response:
        server_id, tool = _named(request)
        try:
            definition_hash = self._reviewed_hash(visitor, form)
            note = field(form, "note") if visitor.principal.holds(DECIDER) else ""
            await self._desk.approve(server_id, tool, definition_hash, visitor.principal, note)
        except OAuthError as exc:
            return await self._refused(server_id, tool, visitor, exc)
        return RedirectResponse(f"{PENDING}?done=approved", status_code=303, headers=LEAVING)

    async def reject(self, request: Request, visitor: Visitor, form: Form) -> Response:
        server_id, tool = _named(request)
        try:
            definition_hash = self._reviewed_hash(visitor, form)
            reason = field(form, "reason") if visitor.principal.holds(DECIDER) else ""
            await self._desk.reject(server_id, tool, definition_hash, visitor.principal, reason)
        except OAuthError as exc:
            return await self._refused(server_id, tool, visitor, exc)
        target = f"{definition_path(server_id, tool)}?done=rejected"
        return RedirectResponse(target, status_code=303, headers=LEAVING)

    @staticmethod
    def _reviewed_hash(visitor: Visitor, form: Form) -> str:
        """The hash the form carries. Someone who may not decide is passed to the desk as they are,
        so the refusal is the desk's and is recorded by it (their texts are not read: the role is
        the one thing the desk is asked)."""
        found = field(form, "hash")
        if visitor.principal.holds(DECIDER) and not HASH.fullmatch(found):
            raise InvalidRequest("the form names no definition hash: reload the page and decide again")
        return found

    async def _refused(self, server_id: str, tool: str, visitor: Visitor, exc: OAuthError) -> Response:
        """The definition's page with the desk's refusal; the bare refusal when nothing waits."""
        message = refusal(exc)
        if exc.status_code == 409:
            message += " The page now shows the definition as it is: read it before you decide."
        try:
            return await self._show(server_id, tool, visitor, message, exc.status_code)
        except NotFound:
            return refused_page(message, exc.status_code, visitor)

    async def _show(
        self,
        server_id: str,
        tool: str,
        visitor: Visitor,
        message: str = "",
        status: int = 200,
        done: str = "",
    ) -> Response:
        pending, pin = await self._shelf.one(server_id, tool)
        if pending is None:
            raise NotFound(f"no definition of tool {tool!r} of server {server_id!r} waits for a decision")
        label = f"{server_id}/{tool}"
        diff = definition_diff(pin.definition if pin else None, pending.definition, label)
        viewer = Viewer(
            decides=visitor.principal.holds(DECIDER),
            reads_only_because=AUTHOR_READS if visitor.principal.holds("tool-author") else READER_READS,
            csrf=visitor.csrf,
            message=message,
            done=done,
        )
        body = definition_page(Reviewed(pending, pin, diff), viewer, self._clock.now())
        title = f"Definition of {tool} at {server_id}"
        return html.page(title, body, status=status, person=visitor.header(), current=PENDING)


def _named(request: Request) -> tuple[str, str]:
    return request.path_params["server_id"], request.path_params["tool"]
