"""Origin and Host checks in front of the MCP endpoint (PR-6; DNS-rebinding defence).

A browser page on another origin must not reach a gateway bound to loopback: a request whose
``Origin`` is present and not allowed gets 403, and one whose ``Host`` is not a name this gateway
is served under gets 421 (Misdirected Request) — a rebinding attack arrives with the attacker's
host name. Refusals are raised as errors of the one family; the ``/mcp`` dispatcher renders them.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import MisdirectedRequest, OriginNotAllowed
from tools_registry.urls import is_loopback, origin


def loopback_host_headers(bind_host: str, port: int) -> tuple[str, ...]:
    """On a loopback bind, the other names of loopback reach the same socket legitimately."""
    if not is_loopback(bind_host):
        return ()
    return tuple(f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]"))


class OriginGuard:
    def __init__(
        self, app: ASGIApp, *, public_url: str, allowed_origins: Iterable[str], allowed_hosts: Iterable[str]
    ) -> None:
        self._app = app
        self._origins = {origin(public_url), *(origin(o) for o in allowed_origins)}
        self._hosts = {urlsplit(public_url).netloc.lower(), *(h.lower() for h in allowed_hosts)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if headers.get(b"host", b"").decode("latin-1").lower() not in self._hosts:
                raise MisdirectedRequest("unknown Host")
            sent_origin = headers.get(b"origin")
            if sent_origin is not None and sent_origin.decode("latin-1").lower() not in self._origins:
                raise OriginNotAllowed("Origin not allowed")
        await self._app(scope, receive, send)
