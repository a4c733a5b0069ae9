"""A person at the console (``/admin``) without a real browser: an HTTP client with a cookie jar that
signs in through the console's own form and submits its forms as a browser would (hidden fields
included, redirects read rather than followed).
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import httpx2

from gateway import paths
from tests.support.gateway_address import GatewayAddress
from tests.support.http_clients import http_client
from tests.support.users import PASSWORD

_FORM = re.compile(r'<form method="post" action="([^"]+)">(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_ALERT = re.compile(r'<p class="notice error" role="alert">(.*?)</p>', re.S)


def forms_of(page: str) -> dict[str, dict[str, str]]:
    """Every form of a page: its action -> its hidden fields."""
    return {
        unescape(action): {unescape(k): unescape(v) for k, v in _HIDDEN.findall(body)}
        for action, body in _FORM.findall(page)
    }


def notice_of(page: str) -> str:
    """The error notice at the top of a console page (as markup), or an empty string."""
    match = _ALERT.search(page)
    return match.group(1) if match else ""


class ConsoleUser:
    """One person's browser at the gateway whose base URL is ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http: httpx2.AsyncClient = http_client(url)

    async def __aenter__(self) -> ConsoleUser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def sign_in(self, username: str, password: str, **extra: str) -> httpx2.Response:
        """Open the sign-in page and post its form; the answer (303 when signed in)."""
        page = await self.http.get(paths.CONSOLE_SIGN_IN)
        assert page.status_code == 200, page.text[:500]
        hidden = forms_of(page.text)[paths.CONSOLE_SIGN_IN]
        return await self.http.post(
            paths.CONSOLE_SIGN_IN, data={**hidden, "username": username, "password": password, **extra}
        )

    async def open(self, path: str) -> httpx2.Response:
        return await self.http.get(path)

    async def submit(self, page: httpx2.Response, action: str, **fields: str | list[str]) -> httpx2.Response:
        """Post the form of ``page`` whose action is ``action`` with its hidden fields and ``fields``."""
        forms = forms_of(page.text)
        assert action in forms, f"no form posting to {action}: {sorted(forms)}"
        return await self.http.post(urljoin(self.url, action), data={**forms[action], **fields})

    async def post(self, path: str, **fields: str | list[str]) -> httpx2.Response:
        """A post made by hand (a forged or replayed form)."""
        return await self.http.post(path, data=fields)


class SignedIn:
    """``async with SignedIn(gw, "sec") as person``: a console user, signed in with the password
    every test person has, and landed on the approval queue."""

    def __init__(self, gateway: GatewayAddress, name: str) -> None:
        self._user = ConsoleUser(gateway.url)
        self._name = name

    async def __aenter__(self) -> ConsoleUser:
        answer = await self._user.sign_in(self._name, PASSWORD)
        assert answer.status_code == 303 and answer.headers["location"] == paths.CONSOLE, answer.text[:500]
        return self._user

    async def __aexit__(self, *exc: object) -> None:
        await self._user.http.aclose()
