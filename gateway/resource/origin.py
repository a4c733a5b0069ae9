"""Origin and Host checks in front of the MCP endpoint (SPEC-NOTES PR-6; DNS-rebinding defence).

A browser page on another origin must not reach a gateway bound to loopback: a request whose
``Origin`` is present and not allowed gets 403, and one whose ``Host`` is not a name this gateway
is served under gets 421 (Misdirected Request) — a rebinding attack arrives with the attacker's
host name.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class OriginGuard:
    def __init__(
        self, app: ASGIApp, *, public_url: str, allowed_origins: Iterable[str], allowed_hosts: Iterable[str]
    ) -> None:
        self._app = app
        parts = urlsplit(public_url)
        self._origins = {_origin(public_url), *(_origin(o) for o in allowed_origins)}
        self._hosts = {parts.netloc.lower(), *(h.lower() for h in allowed_hosts)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            host = headers.get(b"host", b"").decode("latin-1").lower()
            if host not in self._hosts:
                await JSONResponse(
                    {"error": "misdirected_request", "error_description": "unknown Host"}, 421
                )(scope, receive, send)
                return
            origin = headers.get(b"origin")
            if origin is not None and origin.decode("latin-1").lower() not in self._origins:
                await JSONResponse({"error": "forbidden", "error_description": "Origin not allowed"}, 403)(
                    scope, receive, send
                )
                return
        await self._app(scope, receive, send)
