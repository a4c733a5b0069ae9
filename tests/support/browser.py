"""A headless person at the keyboard: follows ``/authorize``, signs in, consents, stops at the
redirect back to the client, and returns what the client would receive.

It is a plain HTTP client with a cookie jar (``follow_redirects=False``), reading the gateway's
server-rendered forms the way a browser would submit them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2

_FORM = re.compile(r'<form method="post" action="([^"]+)">(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_SCOPE = re.compile(r'name="scope" value="([^"]*)"')


@dataclass
class Outcome:
    """Where the flow ended: the redirect back to the client, or a page the person saw."""

    status: int
    location: str | None
    params: dict[str, str]
    page: str

    @property
    def code(self) -> str | None:
        return self.params.get("code")


def form_fields(page: str) -> tuple[str, dict[str, str], list[str]]:
    match = _FORM.search(page)
    if match is None:
        raise AssertionError(f"no form on the page: {page[:500]}")
    action, body = match.groups()
    hidden = {unescape(k): unescape(v) for k, v in _HIDDEN.findall(body)}
    return unescape(action), hidden, [unescape(s) for s in _SCOPE.findall(body)]


class Person:
    def __init__(self, username: str, password: str, http: httpx2.AsyncClient | None = None) -> None:
        self.username = username
        self.password = password
        self.http = http or httpx2.AsyncClient(follow_redirects=False, timeout=10)
        self.pages: list[httpx2.Response] = []

    async def aclose(self) -> None:
        await self.http.aclose()

    async def authorize(
        self,
        authorize_url: str,
        *,
        allow: bool = True,
        untick: tuple[str, ...] = (),
        redirect_prefix: str = "",
    ) -> Outcome:
        """Drive the flow from the authorize URL to the redirect that leaves the gateway."""
        response = await self.http.get(authorize_url)
        for _ in range(8):
            self.pages.append(response)
            if response.status_code in (302, 303):
                location = urljoin(str(response.url), response.headers["location"])
                if not _is_gateway(location, authorize_url) or (
                    redirect_prefix and location.startswith(redirect_prefix)
                ):
                    query = parse_qs(urlsplit(location).query)
                    return Outcome(response.status_code, location, {k: v[0] for k, v in query.items()}, "")
                response = await self.http.get(location)
                continue
            page = response.text
            if (response.status_code >= 400 and 'name="password"' not in page) or "<form" not in page:
                return Outcome(response.status_code, None, {}, page)
            action, hidden, scopes = form_fields(page)
            target = urljoin(str(response.url), action)
            if 'name="password"' in page:
                if response.status_code == 401:
                    return Outcome(response.status_code, None, {}, page)
                data: dict[str, str | list[str]] = {
                    **hidden,
                    "username": self.username,
                    "password": self.password,
                }
            else:
                data = {
                    **hidden,
                    "decision": "allow" if allow else "deny",
                    "scope": [s for s in scopes if s not in untick],
                }
            response = await self.http.post(target, data=data)
        raise AssertionError("the authorization flow did not end")


def _is_gateway(location: str, authorize_url: str) -> bool:
    return urlsplit(location).netloc == urlsplit(authorize_url).netloc and urlsplit(location).path.startswith(
        "/authorize"
    )
