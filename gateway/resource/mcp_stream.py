"""Answering a tool call as a Server-Sent Events stream, when the upstream speaks before it answers.

An answer stays plain JSON (one buffered body, the fast path) until the upstream sends a
notification before its answer (progress, log messages). At that moment :class:`SSEReply` starts
a ``text/event-stream`` response, relays the notification, and ends the stream with the answer.
It writes straight to ASGI ``send``: no task, no queue. Only an agent whose ``Accept`` names
``text/event-stream`` gets a stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


def stream_target(request: Request, send: Send) -> Send | None:
    """Where an SSE answer may go: only to an agent that accepts ``text/event-stream``."""
    return send if "text/event-stream" in request.headers.get("accept", "") else None


def sse_event(message: Mapping[str, Any]) -> bytes:
    return b"event: message\r\ndata: " + json.dumps(message, separators=(",", ":")).encode() + b"\r\n\r\n"


class SSEReply:
    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def notification(self, message: dict[str, Any]) -> None:
        if not self.started:
            self.started = True
            headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
            await self._send({"type": "http.response.start", "status": 200, "headers": headers})
        await self._send({"type": "http.response.body", "body": sse_event(message), "more_body": True})

    async def finish(self, message: Mapping[str, Any]) -> Response:
        await self._send({"type": "http.response.body", "body": sse_event(message), "more_body": False})
        return AlreadySent()


class AlreadySent(Response):
    """The answer went out as a stream already; nothing is left to send."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None
