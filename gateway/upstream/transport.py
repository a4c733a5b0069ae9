"""The upstream transport seam: how one request reaches an upstream MCP server and its answer returns.

:class:`~gateway.upstream.mcp_client.UpstreamClient` speaks MCP through an
:class:`UpstreamTransport` (``post``), and :mod:`gateway.upstream.rest_forwarding` calls REST APIs
through the same one (``send``, any method), so both kinds of upstream have the same limits.
There are two, in the pattern of httpx's transports:
``AiohttpTransport`` (:mod:`gateway.upstream.aiohttp_transport`: production, a pooled aiohttp
session on real sockets) and ``AsgiTransport`` (:mod:`gateway.upstream.asgi_transport`: ASGI apps
called in process, for tests that need no socket). Both keep the same contract:

* the whole answer is returned as an :class:`UpstreamReply`, whatever its status (redirects are
  answers, never followed);
* for an SSE answer, ``on_event`` also gets each complete event as it arrives, so notifications
  reach the agent before the answer ends;
* every failure to get an answer is an :class:`UpstreamFailure` whose message is one line that
  names the upstream and never carries a token: too large (more than ``max_body_bytes``), too
  slow (``time_limit`` seconds in all), unreachable, or broken off.

The SSE framing both sides need (where an event ends, what its ``data`` is) is here too, once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

MAX_BODY_BYTES = 8 * 1024 * 1024
"""The largest answer either transport accepts from an upstream (JSON or SSE, whole)."""

EventReceiver = Callable[[bytes], Awaitable[None]]
"""Receives one complete SSE event (its raw bytes, up to and including the blank line)."""


class UpstreamFailure(Exception):
    """The upstream could not be used; ``str()`` is safe to show to the agent."""


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    content_type: str
    """The media type alone, lower case (``text/event-stream``), without parameters."""
    body: bytes
    session_id: str | None
    """The ``Mcp-Session-Id`` the upstream answered with, if any."""


class UpstreamTransport(Protocol):
    async def post(
        self,
        name: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        time_limit: float,
        on_event: EventReceiver | None = None,
    ) -> UpstreamReply:
        """POST ``body`` to ``url`` of the upstream called ``name``; the whole answer.

        For an SSE answer, ``on_event`` also gets each complete event as it arrives.
        Raises :class:`UpstreamFailure` when no whole answer came within ``time_limit`` seconds.
        """
        ...

    async def send(
        self,
        name: str,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        time_limit: float,
    ) -> UpstreamReply:
        """Any request (a REST API's operation: ``GET``, ``DELETE`` …) to the upstream called
        ``name``; the whole answer, within the same limits as :meth:`post`."""
        ...

    async def aclose(self) -> None:
        """Release what the transport holds (connections); called once, when the gateway stops."""
        ...


def media_type(content_type: str) -> str:
    """``text/event-stream; charset=utf-8`` -> ``text/event-stream``."""
    return content_type.split(";")[0].strip().lower()


class IncomingBody:
    """An answer's body as it arrives: refused past the size cap; for an SSE answer, each event
    handed to ``on_event`` as soon as it is complete (the body is still kept whole)."""

    def __init__(self, name: str, max_bytes: int, content_type: str, on_event: EventReceiver | None) -> None:
        self._name = name
        self._max_bytes = max_bytes
        self._on_event = on_event if content_type == "text/event-stream" else None
        self._content = bytearray()
        self._delivered = 0

    async def add(self, chunk: bytes) -> None:
        self._content += chunk
        if len(self._content) > self._max_bytes:
            raise UpstreamFailure(f"upstream {self._name} answered with more than {self._max_bytes} bytes")
        while self._on_event is not None and (end := _event_end(self._content, self._delivered)) > 0:
            event, self._delivered = bytes(self._content[self._delivered : end]), end
            await self._on_event(event)

    @property
    def content(self) -> bytes:
        return bytes(self._content)


def _event_end(body: bytearray, start: int) -> int:
    """Where the first complete SSE event after ``start`` ends (0: none complete yet)."""
    ends = [i + len(sep) for sep in (b"\n\n", b"\r\n\r\n") if (i := body.find(sep, start)) >= 0]
    return min(ends) if ends else 0


def event_data(text: str) -> list[str]:
    """The ``data`` of each SSE event in ``text`` (events without data are left out).

    A field's lines are joined with newlines, as the SSE rules say.

    >>> event_data("event: message\\r\\ndata: {\\"a\\":\\r\\ndata: 1}\\r\\n\\r\\n: ping\\n\\n")
    ['{"a":\\n1}']
    """
    data = []
    for event in text.replace("\r\n", "\n").split("\n\n"):
        joined = "\n".join(line[5:].lstrip() for line in event.split("\n") if line.startswith("data:"))
        if joined:
            data.append(joined)
    return data
