"""The door every console page goes through (AD-5).

    a page (GET)   no session: 303 to the sign-in page; no role: the 403 page; else the page
    a form (POST)  no session, or a token that is not this session's: 403 before anything is read
                   or changed; no role: the 403 page; else the handler, with the form

A page or form opened to people without a role (``role_needed=False``: the page of a held call,
which the person it was made for may read, AP-6) makes that check itself and answers
:func:`no_role_page` to everyone else.

Whatever a desk refuses is shown as a page with its reason and status; a store that does not answer
is a 503 page. Nothing reaches Starlette's JSON error handlers, and no answer is a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from html import escape
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import paths
from gateway.console import html
from gateway.console.visitors import Visitor, Visitors
from gateway.constant_time import same
from gateway.errors import OAuthError
from gateway.request_body import BodyTooLarge, read_page_form
from gateway.store import StoreUnavailable

logger = logging.getLogger("mcp_gateway.console")

Form = dict[str, list[str]]
PageHandler = Callable[[Request, Visitor], Awaitable[Response]]
FormHandler = Callable[[Request, Visitor, Form], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]

MAX_FORM_BYTES = 16 * 1024
LEAVING = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def refusal(exc: OAuthError) -> str:
    """What a desk's refusal says, as a sentence on the page."""
    reason = exc.description or exc.error
    return f"Refused: {reason[:1].upper()}{reason[1:]}."


def field(form: Form, name: str) -> str:
    """The first value of ``name`` in the form, or an empty string. A browser sends the line breaks
    of a text area as CR LF; they are read as LF, the one line break the desks' texts allow."""
    return (form.get(name) or [""])[0].replace("\r\n", "\n")


class Access:
    def __init__(self, visitors: Visitors) -> None:
        self._visitors = visitors

    def page(self, handler: PageHandler, *, role_needed: bool = True) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                visitor = await self._visitors.of(request)
                if visitor is None:
                    target = f"{paths.CONSOLE_SIGN_IN}?{urlencode({'next': request.url.path})}"
                    return RedirectResponse(target, status_code=303, headers=LEAVING)
                if role_needed and not visitor.has_role:
                    return no_role_page(visitor)
                return await _answered(handler(request, visitor), visitor)
            except StoreUnavailable as exc:
                return store_down_page(exc)

        return endpoint

    def form(self, handler: FormHandler, *, role_needed: bool = True) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                visitor = await self._visitors.of(request)
                if visitor is None:
                    return refused_page("Your session has ended. Sign in again, then repeat what you did.")
                try:
                    form = await read_page_form(request, MAX_FORM_BYTES)
                except BodyTooLarge:
                    return refused_page("This form is larger than the console accepts.", 413, visitor)
                if not same(field(form, "csrf"), visitor.csrf):
                    logger.warning("console form refused: its token is not this session's")
                    return refused_page(
                        "This form was not issued to this session. Reload the page and try again.",
                        403,
                        visitor,
                    )
                if role_needed and not visitor.has_role:
                    return no_role_page(visitor)
                return await _answered(handler(request, visitor, form), visitor)
            except StoreUnavailable as exc:
                return store_down_page(exc)

        return endpoint


async def _answered(answer: Awaitable[Response], visitor: Visitor) -> Response:
    """The handler's page; a refusal it did not show itself becomes a page of its own."""
    try:
        return await answer
    except OAuthError as exc:
        return refused_page(refusal(exc), exc.status_code, visitor)


def refused_page(text: str, status: int = 403, visitor: Visitor | None = None) -> Response:
    back = f'<p><a href="{paths.CONSOLE}">Back to the approval queue</a></p>'
    if visitor is not None and not visitor.has_role:
        back = ""  # the queue is not for them
    body = "<h1>This cannot be done</h1>" + html.notice(text) + back
    return html.page("Refused", body, status=status, person=visitor.header() if visitor else None)


def no_role_page(visitor: Visitor) -> Response:
    body = (
        "<h1>You hold no role at the console</h1>"
        f"<p>You are signed in as <strong>{escape(visitor.name)}</strong>, but the console is only for "
        "people holding one of the roles <code>security-admin</code>, <code>tool-author</code> or "
        "<code>auditor</code>. Nothing here is shown to you.</p>"
        "<p>Ask your security team for a role. They give one to a built-in user with "
        f"<code>mcp-gateway users roles {escape(visitor.name)} --set auditor</code>; people who sign in "
        "with the company's identity provider get theirs from their groups there.</p>"
        "<p>An agent acting for you that asks you to approve one of its tool calls gives you the link "
        "to that call's page: open that link.</p>"
    )
    return html.page("No role", body, status=403, person=visitor.header())


def store_down_page(exc: StoreUnavailable) -> Response:
    logger.warning("store unavailable: %s", exc)
    body = "<h1>The console cannot answer right now</h1>" + html.notice(
        "The gateway's state store does not answer. Try again in a moment."
    )
    return html.page("Unavailable", body, status=503)


async def not_found(request: Request) -> Response:
    body = (
        "<h1>Nothing here</h1><p>The console has no page at this address.</p>"
        f'<p><a href="{paths.CONSOLE}">Go to the approval queue</a></p>'
    )
    return html.page("Not found", body, status=404)
