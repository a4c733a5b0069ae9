"""An httpx2 transport to an ASGI app in process that hands the answer over as the app sends it.

``httpx2.ASGITransport`` waits for the app to finish and returns the body whole, so an agent
cannot see through it that a stream's first events arrived before its end. Over a socket it can:
:class:`StreamingASGITransport` behaves the same way without one. The app runs in a task of its
own; the response comes back as soon as the app starts it, and each body message reaches the
client when the app sends it. As a server does, the app hears ``http.disconnect`` only once its
answer is out or the client stopped reading. An exception the app raises reaches the client's
call (as with ``httpx2.ASGITransport``): at once if no answer had started, else when the body has
been read up to where the app stopped.

The apps run in the transport's task group, so the client must be used as ``async with`` (which
enters the transport). Leaving it tells any app still answering that the client has gone, as a
dropped connection would, and waits for it to return, as a server lets it finish. Give a client
one such transport, never several as ``mounts``: httpx leaves mounted transports in the order it
entered them, and task groups must be left in reverse. To reach several apps, route inside one
ASGI app.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream
from starlette.types import ASGIApp, Message

_CLIENT = ("127.0.0.1", 123)
"""The agent's address as the app sees it (``scope["client"]``), as ``httpx2.ASGITransport`` has it."""

_ResponseStart = tuple[int, list[tuple[bytes, bytes]]]


class StreamingASGITransport(httpx2.AsyncBaseTransport):
    """``httpx2.AsyncClient(transport=StreamingASGITransport(app))``, used as ``async with``."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._exit_stack = contextlib.AsyncExitStack()
        self._tasks: TaskGroup | None = None
        self._open: set[_Exchange] = set()

    async def __aenter__(self) -> StreamingASGITransport:
        self._tasks = await self._exit_stack.enter_async_context(anyio.create_task_group())
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self._tasks = None
        for exchange in self._open:
            exchange.client_gone()
        await self._exit_stack.__aexit__(*exc_info)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._tasks is None:
            raise RuntimeError("use the client as `async with`: the app runs in the transport's tasks")
        exchange = _Exchange(request)
        self._tasks.start_soon(self._serve, exchange)
        status, headers = await exchange.response_start()
        return httpx2.Response(status, headers=headers, stream=exchange.answer)

    async def _serve(self, exchange: _Exchange) -> None:
        self._open.add(exchange)
        try:
            await exchange.run(self._app)
        finally:
            self._open.discard(exchange)


class _Answer(httpx2.AsyncByteStream):
    """The response body as the app sends it; closing it tells the app the client has gone."""

    def __init__(self, chunks: MemoryObjectReceiveStream[bytes], exchange: _Exchange) -> None:
        self._chunks = chunks
        self._exchange = exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            yield chunk
        if self._exchange.failure is not None:
            raise self._exchange.failure

    async def aclose(self) -> None:
        self._chunks.close()
        self._exchange.client_gone()


class _Exchange:
    """One request to the app: its body fed in, its answer passed on message by message."""

    def __init__(self, request: httpx2.Request) -> None:
        assert isinstance(request.stream, httpx2.AsyncByteStream)
        self._request = request
        self._request_chunks = request.stream.__aiter__()
        self._request_complete = False
        self._chunks_in, chunks_out = anyio.create_memory_object_stream[bytes](math.inf)
        self._done = anyio.Event()
        """The answer is out, or the client stopped reading it."""
        self.answer = _Answer(chunks_out, self)
        self._start: _ResponseStart | None = None
        self._started = anyio.Event()
        """The answer started, or the app returned without one."""
        self.failure: Exception | None = None
        """What the app raised, for the client's call to raise."""

    async def run(self, app: ASGIApp) -> None:
        try:
            with self._chunks_in:  # the answer ends when the app returns, whatever it sent
                await app(self._scope(), self._receive, self._send)
        except Exception as exc:
            self.failure = exc
        finally:
            self._started.set()

    def client_gone(self) -> None:
        """The client stopped reading: the app now hears ``http.disconnect``."""
        self._done.set()

    async def response_start(self) -> _ResponseStart:
        """The status and headers, once the app has sent them."""
        await self._started.wait()
        if self._start is None:
            await self.answer.aclose()  # no response will carry it
            raise self.failure or RuntimeError("the app returned without an answer")
        return self._start

    def _scope(self) -> dict[str, Any]:
        url = self._request.url
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": self._request.method,
            "headers": [(name.lower(), value) for name, value in self._request.headers.raw],
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query,
            "server": (url.host, url.port),
            "client": _CLIENT,
            "root_path": "",
        }

    async def _receive(self) -> Message:
        if self._request_complete:
            await self._done.wait()
            return {"type": "http.disconnect"}
        try:
            chunk: bytes = await self._request_chunks.__anext__()
        except StopAsyncIteration:
            self._request_complete = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def _send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            assert self._start is None, "the answer started twice"
            self._start = (message["status"], list(message.get("headers", [])))
            self._started.set()
        elif message["type"] == "http.response.body":
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._chunks_in.send_nowait(message.get("body", b""))  # dropped if the client left
            if not message.get("more_body", False):
                self._chunks_in.close()
                self._done.set()
