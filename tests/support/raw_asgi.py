"""The two halves of an HTTP exchange written in raw ASGI: reading the request, sending the answer.

Fake upstreams and the token proxy are raw ASGI apps, so that a test controls every byte of what
the gateway receives (garbage, a stream, a status) without a framework deciding for it.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Message, Receive, Send


async def read_body(receive: Receive) -> bytes:
    """The whole request body, however many messages it came in."""
    body = bytearray()
    while True:
        message: Message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body)


async def send_response(
    send: Send,
    status: int,
    content_type: str,
    body: bytes,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """One complete response: status, ``Content-Type``, ``Content-Length``, ``headers``, ``body``."""
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
