"""A test-only reverse proxy that adds a bearer token to every request it forwards to ``/mcp``.

The official conformance suite's ``server`` command sends no token, and the gateway answers every
unauthenticated ``/mcp`` request 401. Rather than open an unauthenticated path in the product, the
tests put this proxy between the suite and the gateway:

    suite ──> proxy (adds ``Authorization: Bearer <token>``) ──> gateway /mcp ──> upstream

Everything else passes through unchanged, in both directions: method, path, query, body, status,
and every end-to-end header, ``Host`` and ``Origin`` included, so a DNS-rebinding probe (``Host:
evil.example.com``) reaches the gateway's own Host/Origin guard as sent. The gateway is configured
to know the name it is served under (``allowed_hosts`` / ``allowed_origins``), as it would be
behind any reverse proxy. Only the hop-by-hop headers of RFC 9110 §7.6.1 are not forwarded.

Serve it with :class:`~tests.support.asgi_server.Served` (``server_header=False,
date_header=False``: a proxy would otherwise add a second copy of the ones the gateway sends).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx2
from starlette.types import Receive, Scope, Send

from tests.support.raw_asgi import read_body

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
"""RFC 9110 §7.6.1: meaningful for one connection only; a proxy does not forward them."""


def forwarded_request_headers(raw: list[tuple[bytes, bytes]], token: str) -> list[tuple[bytes, bytes]]:
    """The client's headers minus hop-by-hop ones, ``Content-Length`` (the client sets it again
    for the body it sends) and any ``Authorization``, plus the bearer token. ``Host`` is kept.

    Values lose leading and trailing whitespace, which is not part of a field value (RFC 9110
    §5.5) and which h11 refuses to send; the gateway's own trimming is tested without the proxy."""
    kept = [
        (name, value.strip(b" \t"))
        for name, value in raw
        if name.lower().decode("latin-1") not in HOP_BY_HOP | {"content-length", "authorization"}
    ]
    return [*kept, (b"authorization", f"Bearer {token}".encode())]


def forwarded_response_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in raw if name.lower().decode("latin-1") not in HOP_BY_HOP]


class TokenInjectingProxy:
    """ASGI app: requests to ``path`` go to ``target`` (an absolute URL) with the token added;
    any other path is answered 404, so the token is only ever presented to the MCP endpoint."""

    def __init__(self, target: str, token: str, *, path: str | None = None) -> None:
        self._target = target
        self._path = path if path is not None else urlsplit(target).path
        self._token = token
        self._client: httpx2.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http" or scope["path"] != self._path or self._client is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        body = await read_body(receive)
        url = self._target + (f"?{scope['query_string'].decode('latin-1')}" if scope["query_string"] else "")
        request = self._client.build_request(
            scope["method"],
            url,
            headers=forwarded_request_headers(scope["headers"], self._token),
            content=body,
        )
        response = await self._client.send(request, stream=True)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": forwarded_response_headers(response.headers.raw),
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Never a proxy from the environment: the gateway is on loopback.
                self._client = httpx2.AsyncClient(trust_env=False, timeout=30.0)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return
