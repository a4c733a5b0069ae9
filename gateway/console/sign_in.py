"""Signing in to the console: the same people, limits and session as ``/authorize`` (AD-5, SI-1).

    GET  /admin/sign-in?next=<console path>   the form; "Sign in with …" too when federation is on
    POST /admin/sign-in                       303 to the page asked for, or the form again (401, 429)
    POST /admin/sign-in/federated             303 to the provider, whose callback comes back here
    POST /admin/sign-out                      the session ends (for ``/authorize`` too: it is one)

Before there is a session, the sign-in forms carry a token derived from the browser's binder
cookie (the one pending authorization requests are bound to), so no other site can post a sign-in
into this browser (login CSRF), and a federated sign-in comes back only to the browser that began
it. After signing in, the browser goes to ``next`` only when it is a console page.
"""

from __future__ import annotations

import re
from html import escape

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import paths
from gateway.console import html
from gateway.console.access import LEAVING, MAX_FORM_BYTES, Form, field, refused_page
from gateway.console.visitors import Visitor
from gateway.constant_time import same
from gateway.oauth.authorize.browser_state import BrowserState, form_token
from gateway.oauth.authorize.federation import FederatedSignIn
from gateway.oauth.authorize.password_sign_in import PasswordSignIn
from gateway.request_body import BodyTooLarge, read_page_form

PURPOSE = "console-sign-in"
BINDER_LIFETIME = 600
_CONSOLE_PAGE = re.compile(r"/admin(/[A-Za-z0-9._~-]+)*/?")


def next_page(value: str | None) -> str:
    """Where to go once signed in: ``value`` when it is a console page, else the queue.

    >>> next_page("/admin/requests/req_1"), next_page("//evil.example"), next_page("/admin/api/v1")
    ('/admin/requests/req_1', '/admin', '/admin')
    """
    if value and _CONSOLE_PAGE.fullmatch(value) and not value.startswith(paths.ADMIN_API):
        return value
    return paths.CONSOLE


class ConsoleSignIn:
    def __init__(
        self, browser: BrowserState, passwords: PasswordSignIn, federation: FederatedSignIn | None
    ) -> None:
        self._browser = browser
        self._passwords = passwords
        self._federation = federation

    async def form(self, request: Request) -> Response:
        goal = next_page(request.query_params.get("next"))
        if await self._browser.session(request) is not None:
            return RedirectResponse(goal, status_code=303, headers=LEAVING)
        return await self._page(request, goal)

    async def sign_in(self, request: Request) -> Response:
        form = await self._ours(request)
        if form is None:
            return _expired()
        goal = next_page(field(form, "next"))
        attempt = await self._passwords.attempt(
            request, field(form, "username"), field(form, "password"), where="console"
        )
        if attempt.user is None:
            return await self._page(request, goal, attempt.error, attempt.status)
        response = RedirectResponse(goal, status_code=303, headers=LEAVING)
        await self._browser.sign_in(response, attempt.user.username)
        return response

    async def federated(self, request: Request) -> Response:
        form = await self._ours(request)
        if form is None or self._federation is None:
            return _expired()
        binder = request.cookies.get(self._browser.cookies.binder, "")
        return await self._federation.start_returning(binder, next_page(field(form, "next")))

    async def sign_out(self, request: Request, visitor: Visitor, form: Form) -> Response:
        response = RedirectResponse(paths.CONSOLE_SIGN_IN, status_code=303, headers=LEAVING)
        await self._browser.sign_out(request, response)
        return response

    async def _ours(self, request: Request) -> Form | None:
        """The posted form, when it carries the token of this browser's binder cookie."""
        binder = request.cookies.get(self._browser.cookies.binder, "")
        try:
            form = await read_page_form(request, MAX_FORM_BYTES)
        except BodyTooLarge:
            return None
        if not binder or not same(field(form, "csrf"), form_token(binder, PURPOSE)):
            return None
        return form

    async def _page(self, request: Request, goal: str, error: str = "", status: int = 200) -> Response:
        binder, _ = self._browser.binder(request)
        fields = html.hidden({"csrf": form_token(binder, PURPOSE), "next": goal})
        federation = self._federation
        other = (
            f'<form method="post" action="{paths.CONSOLE_FEDERATED}">{fields}<button type="submit" '
            f'class="secondary">Sign in with {escape(federation.button[1])}</button></form>'
            if federation
            else ""
        )
        body = (
            '<div class="card narrow"><h1>Sign in to the console</h1>'
            '<p class="lead">The security team\'s approval queue and grants.</p>'
            f"{html.notice(error)}"
            f'<form method="post" action="{paths.CONSOLE_SIGN_IN}">{fields}'
            '<label for="username">Username</label>'
            '<input type="text" id="username" name="username" autocomplete="username" required autofocus>'
            '<label for="password">Password</label>'
            '<input type="password" id="password" name="password" autocomplete="current-password" required>'
            f'<button type="submit" class="primary">Sign in</button></form>{other}</div>'
        )
        targets = await federation.form_targets() if federation else []
        response = html.page("Sign in", body, status=status, form_targets=targets)
        self._browser.cookies.set(response, self._browser.cookies.binder, binder, BINDER_LIFETIME)
        return response


def _expired() -> Response:
    return refused_page("This sign-in form has expired or was not issued to this browser. Reload the page.")
