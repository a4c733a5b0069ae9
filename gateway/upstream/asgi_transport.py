"""An upstream transport that calls ASGI apps in process: no socket, no server, same contract.

The counterpart of httpx's ``ASGITransport``, for tests (and anyone embedding an upstream in the
gateway's process). Each upstream URL is matched to an app by origin (``https://weather.test``)
or by URL prefix (``https://tools.test/weather``; the longest wins); the app sees the request as
a server would pass it on (method, path, query, headers, ``server`` and ``client``) and the
answer is collected from its ``http.response.*`` messages, with the same rules as on the wire:

* SSE events go to ``on_event`` as the app sends them, before the app has finished;
* an answer over ``max_body_bytes``, an app slower than the time limit, a URL no app is mapped
  to (or one :meth:`AsgiTransport.unmount` took away) fail as they would with real sockets,
  with the same one-line :class:`~gateway.upstream.transport.UpstreamFailure` messages;
* redirects are answers like any other: nothing is followed;
* an app that raises (or ends without a whole answer) is an upstream that failed; the exception
  is logged, as a server would.

Apps whose lifespan matters (the ``mcp`` SDK's servers start their session manager in it) must
have it running while they serve: :func:`lifespan` runs one app's, as a server would. Each app's
lifespan ``state`` is not passed on to its requests.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio
from starlette.types import ASGIApp, Message

from gateway.upstream.transport import (
    MAX_BODY_BYTES,
    EventReceiver,
    IncomingBody,
    UpstreamFailure,
    UpstreamReply,
    media_type,
)

logger = logging.getLogger("mcp_gateway.asgi_transport")

_CLIENT = ("127.0.0.1", 123)
"""The gateway's address as the apps see it (``scope["client"]``)."""
_DEFAULT_PORTS = {"http": 80, "https": 443}


class AsgiTransport:
    """``AsgiTransport({"https://weather.test": weather_app})``: calls go to the mapped apps."""

    def __init__(self, apps: Mapping[str, ASGIApp], max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._apps = {prefix.rstrip("/"): app for prefix, app in apps.items()}
        self._max_body_bytes = max_body_bytes

    def mount(self, prefix: str, app: ASGIApp) -> None:
        """Calls to ``prefix`` go to ``app`` from now on (an upstream that starts after the gateway)."""
        self._apps[prefix.rstrip("/")] = app

    def unmount(self, prefix: str) -> None:
        """The upstream at ``prefix`` goes away: calls to it now fail as unreachable, the way a
        stopped server's port refuses connections."""
        del self._apps[prefix.rstrip("/")]

    def _app_for(self, url: str) -> ASGIApp | None:
        matches = [
            prefix
            for prefix in self._apps
            if url == prefix or (url.startswith(prefix) and url[len(prefix)] in "/?#")
        ]
        return self._apps[max(matches, key=len)] if matches else None

    async def post(
        self,
        name: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        time_limit: float,
        on_event: EventReceiver | None = None,
    ) -> UpstreamReply:
        """The whole answer of the app mapped to ``url``; SSE events reach ``on_event`` as sent."""
        return await self._exchange(name, "POST", url, body, headers, time_limit, on_event)

    async def send(
        self,
        name: str,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        time_limit: float,
    ) -> UpstreamReply:
        return await self._exchange(name, method, url, body or b"", headers, time_limit, None)

    async def _exchange(
        self,
        name: str,
        method: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        time_limit: float,
        on_event: EventReceiver | None,
    ) -> UpstreamReply:
        app = self._app_for(url)
        if app is None:
            raise UpstreamFailure(f"upstream {name} is unreachable")
        exchange = _Exchange(name, body, self._max_body_bytes, on_event)
        try:
            with anyio.fail_after(time_limit):
                # A task of its own, so context variables the app sets stay its own, as they would
                # in a server of its own.
                async with anyio.create_task_group() as group:
                    group.start_soon(exchange.run, app, _scope(method, url, body, headers))
        except TimeoutError:
            raise UpstreamFailure(f"upstream {name} did not answer within {time_limit:g} s") from None
        return exchange.reply()

    async def aclose(self) -> None:
        """Nothing to release: there are no connections."""


def _scope(method: str, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """The HTTP scope a server would build for this request (ASGI 3, HTTP spec 2.3)."""
    parts = urlsplit(url)
    sent = {"host": parts.netloc, "content-length": str(len(body))}
    sent.update((field.lower(), value) for field, value in headers.items())
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": parts.scheme,
        "path": unquote(parts.path) or "/",
        "raw_path": (parts.path or "/").encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(field.encode("latin-1"), value.encode("latin-1")) for field, value in sent.items()],
        "server": (parts.hostname or "", parts.port or _DEFAULT_PORTS.get(parts.scheme, 80)),
        "client": _CLIENT,
    }


class _Exchange:
    """One request to one app: its body fed in, its answer collected as the app sends it."""

    def __init__(self, name: str, body: bytes, max_body_bytes: int, on_event: EventReceiver | None) -> None:
        self._name = name
        self._body: bytes | None = body
        self._max_body_bytes = max_body_bytes
        self._on_event = on_event
        self._status: int | None = None
        self._content_type = ""
        self._session_id: str | None = None
        self._incoming: IncomingBody | None = None
        self._complete = anyio.Event()
        self._failure: Exception | None = None
        """What ended the exchange on the gateway's side (the size cap, or ``on_event`` raising)."""

    async def run(self, app: ASGIApp, scope: dict[str, Any]) -> None:
        try:
            await app(scope, self._receive, self._send)
        except Exception as exc:
            if self._failure is None:  # the app's own fault, not one it passed on from _send
                logger.exception("upstream %s (in process) raised", self._name)
                self._failure = UpstreamFailure(f"upstream {self._name} failed: {type(exc).__name__}")

    async def _receive(self) -> Message:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self._complete.wait()  # as a server does: "disconnected" only once the answer is out
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self._failure is not None:
            raise self._failure  # the gateway stopped reading this answer
        if message["type"] == "http.response.start":
            self._status = message["status"]
            fields = {k.lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
            self._content_type = media_type(fields.get(b"content-type", ""))
            self._session_id = fields.get(b"mcp-session-id")
            self._incoming = IncomingBody(
                self._name, self._max_body_bytes, self._content_type, self._on_event
            )
        elif message["type"] == "http.response.body" and self._incoming is not None:
            try:
                await self._incoming.add(message.get("body", b""))
            except Exception as exc:  # the gateway's to raise, as over a socket, not the app's
                self._failure = exc
                raise
            if not message.get("more_body", False):
                self._complete.set()

    def reply(self) -> UpstreamReply:
        if self._failure is not None:
            raise self._failure
        if self._status is None or self._incoming is None or not self._complete.is_set():
            raise UpstreamFailure(f"upstream {self._name} failed: its answer ended early")
        return UpstreamReply(self._status, self._content_type, self._incoming.content, self._session_id)


@contextlib.asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run ``app``'s lifespan around the block, as a server does: startup before, shutdown after.

    An app whose startup fails makes this raise (in an exception group) before the block runs.
    """
    to_app, app_receives = anyio.create_memory_object_stream[Message](1)
    app_sends, from_app = anyio.create_memory_object_stream[Message](1)
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}

    async def run() -> None:
        async with app_sends:  # the app returning ends the stream
            await app(scope, app_receives.receive, app_sends.send)

    async def step(event: str) -> None:
        await to_app.send({"type": f"lifespan.{event}"})
        try:
            answer = await from_app.receive()
        except anyio.EndOfStream:
            raise RuntimeError(f"the app ended its lifespan at {event}") from None
        if answer["type"] != f"lifespan.{event}.complete":
            raise RuntimeError(f"the app's lifespan {event} failed: {answer.get('message', '')}")

    async with anyio.create_task_group() as group, to_app, from_app, app_receives:
        group.start_soon(run)
        await step("startup")
        try:
            yield
        finally:
            await step("shutdown")
