"""Both upstream transports keep one contract: each rule below runs against ``AiohttpTransport``
(the app under uvicorn, on a socket) and ``AsgiTransport`` (the same app, called in process).

Then the rules only the in-process transport has: how URLs choose apps, an app that goes away or
raises, and running an app's lifespan.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from starlette.types import Message, Receive, Scope, Send

from gateway.upstream.aiohttp_transport import AiohttpTransport
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from gateway.upstream.transport import UpstreamFailure, UpstreamReply, UpstreamTransport
from tests.support.asgi_server import Served
from tests.support.ports import closed_port_url

pytestmark = pytest.mark.anyio

BODY_CAP = 4096
NAME = "tools"
IN_PROCESS_ORIGIN = "https://tools.test"


@dataclass
class ContractUpstream:
    """A raw ASGI upstream with one path per behaviour; it records the paths it was asked for.

    ``/sse`` sends a notification, then waits until the test has seen it (``released``, a thread
    event: under uvicorn the app runs on another thread) before it sends the answer.
    """

    paths: list[str] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    released_before_answer: bool = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.paths.append(scope["path"])
        if scope["path"] == "/json":
            echo = {
                "method": scope["method"],
                "query": scope["query_string"].decode(),
                "authorization": dict(scope["headers"]).get(b"authorization", b"").decode(),
                "body": body.decode(),
            }
            await _answer(send, 200, "application/json", json.dumps(echo).encode(), session_id=b"s-1")
        elif scope["path"] == "/sse":
            await self._stream(send)
        elif scope["path"] == "/large":
            await _answer(send, 200, "application/json", b'"' + b"x" * BODY_CAP + b'"')
        elif scope["path"] == "/slow":
            with anyio.move_on_after(30):
                while (await receive())["type"] != "http.disconnect":
                    pass
        elif scope["path"] == "/redirect":
            await _answer(send, 307, "text/plain", b"", location=b"/json")
        else:
            await _answer(send, 404, "text/plain", b"")

    async def _stream(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        progress = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}}
        await send({"type": "http.response.body", "body": _event(progress), "more_body": True})
        self.released_before_answer = await anyio.to_thread.run_sync(self.released.wait, 20)
        answer = {"jsonrpc": "2.0", "id": 1, "result": {}}
        await send({"type": "http.response.body", "body": _event(answer)})


def _event(message: dict[str, Any]) -> bytes:
    return b"event: message\r\ndata: " + json.dumps(message).encode() + b"\r\n\r\n"


async def _answer(
    send: Send,
    status: int,
    content_type: str,
    body: bytes,
    *,
    session_id: bytes | None = None,
    location: bytes | None = None,
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(b"mcp-session-id", session_id)] if session_id else []
    headers += [(b"location", location)] if location else []
    start: Message = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body})


@dataclass
class Upstream:
    transport: UpstreamTransport
    url: str
    """Where the app is reached (no trailing slash)."""
    unreachable_url: str
    app: ContractUpstream

    async def post(self, path: str, time_limit: float = 10, **options: Any) -> UpstreamReply:
        headers = {"Authorization": "Bearer downstream", "Content-Type": "application/json"}
        return await self.transport.post(NAME, self.url + path, b'{"a": 1}', headers, time_limit, **options)


@pytest.fixture(params=["aiohttp", "asgi"])
async def upstream(request: pytest.FixtureRequest) -> AsyncIterator[Upstream]:
    app = ContractUpstream()
    if request.param == "aiohttp":
        with Served(lifespan="off").start(app) as served:
            transport = AiohttpTransport(max_body_bytes=BODY_CAP)
            try:
                yield Upstream(transport, served.url, closed_port_url(), app)
            finally:
                await transport.aclose()
    else:
        transport_in_process = AsgiTransport({IN_PROCESS_ORIGIN: app}, max_body_bytes=BODY_CAP)
        yield Upstream(transport_in_process, IN_PROCESS_ORIGIN, "https://elsewhere.test/mcp", app)


async def test_a_json_answer_comes_back_whole_with_its_session_id(upstream: Upstream) -> None:
    reply = await upstream.post("/json?page=2")
    assert (reply.status, reply.content_type, reply.session_id) == (200, "application/json", "s-1")
    assert json.loads(reply.body) == {
        "method": "POST",
        "query": "page=2",
        "authorization": "Bearer downstream",
        "body": '{"a": 1}',
    }


async def test_an_sse_event_reaches_on_event_before_the_answer_ends(upstream: Upstream) -> None:
    events: list[bytes] = []

    async def on_event(event: bytes) -> None:
        events.append(event)
        upstream.app.released.set()  # the notification is here: now let the app answer

    reply = await upstream.post("/sse", on_event=on_event)
    assert upstream.app.released_before_answer, "the notification was held back until the answer"
    assert reply.content_type == "text/event-stream"
    assert [json.loads(event.split(b"data: ")[1]) for event in events] == [
        {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}},
        {"jsonrpc": "2.0", "id": 1, "result": {}},
    ]
    assert reply.body == b"".join(events), "the answer is still returned whole"


async def test_an_answer_over_the_body_cap_is_refused(upstream: Upstream) -> None:
    with pytest.raises(UpstreamFailure, match=f"^upstream {NAME} answered with more than {BODY_CAP} bytes$"):
        await upstream.post("/large")


async def test_an_upstream_slower_than_the_time_limit_fails(upstream: Upstream) -> None:
    with pytest.raises(UpstreamFailure, match=f"^upstream {NAME} did not answer within 0.2 s$"):
        await upstream.post("/slow", time_limit=0.2)


async def test_an_unreachable_upstream_fails(upstream: Upstream) -> None:
    with pytest.raises(UpstreamFailure, match=f"^upstream {NAME} is unreachable$"):
        await upstream.transport.post(NAME, upstream.unreachable_url, b"{}", {}, 10)


async def test_a_redirect_is_an_answer_and_is_not_followed(upstream: Upstream) -> None:
    reply = await upstream.post("/redirect")
    assert reply.status == 307
    assert upstream.app.paths == ["/redirect"]


# -- send: any method (a REST API's operations), the same limits -----------------------------------


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_send_carries_a_bodyless_request_and_returns_the_whole_answer(
    upstream: Upstream, method: str
) -> None:
    headers = {"Authorization": "Bearer downstream", "Accept": "application/json"}
    reply = await upstream.transport.send(NAME, method, upstream.url + "/json?id=7", None, headers, 10)
    assert (reply.status, reply.content_type) == (200, "application/json")
    assert json.loads(reply.body) == {
        "method": method,
        "query": "id=7",
        "authorization": "Bearer downstream",
        "body": "",
    }


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_send_keeps_the_body_cap(upstream: Upstream, method: str) -> None:
    with pytest.raises(UpstreamFailure, match=f"^upstream {NAME} answered with more than {BODY_CAP} bytes$"):
        await upstream.transport.send(NAME, method, upstream.url + "/large", None, {}, 10)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_send_keeps_the_time_limit(upstream: Upstream, method: str) -> None:
    with pytest.raises(UpstreamFailure, match=f"^upstream {NAME} did not answer within 0.2 s$"):
        await upstream.transport.send(NAME, method, upstream.url + "/slow", None, {}, 0.2)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_send_follows_no_redirect(upstream: Upstream, method: str) -> None:
    reply = await upstream.transport.send(NAME, method, upstream.url + "/redirect", None, {}, 10)
    assert reply.status == 307
    assert upstream.app.paths == ["/redirect"]


async def test_send_to_an_unreachable_upstream_fails(upstream: Upstream) -> None:
    with pytest.raises(UpstreamFailure, match=f"^upstream {NAME} is unreachable$"):
        await upstream.transport.send(NAME, "GET", upstream.unreachable_url, None, {}, 10)


# -- the in-process transport's own rules ---------------------------------------------------------


def _named(name: str) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 200, "application/json", json.dumps([name, scope["path"]]).encode())

    return app


async def test_the_longest_mapped_prefix_chooses_the_app() -> None:
    transport = AsgiTransport(
        {"https://a.test": _named("origin"), "https://a.test/weather/": _named("prefix")}
    )

    async def answered_by(url: str) -> list[str]:
        result: list[str] = json.loads((await transport.post(NAME, url, b"", {}, 10)).body)
        return result

    assert await answered_by("https://a.test/mcp") == ["origin", "/mcp"]
    assert await answered_by("https://a.test/weather/mcp") == ["prefix", "/weather/mcp"]
    assert await answered_by("https://a.test/weathering") == ["origin", "/weathering"]
    with pytest.raises(UpstreamFailure, match="unreachable"):
        await transport.post(NAME, "https://a.testing/mcp", b"", {}, 10)


async def test_an_upstream_unmounted_is_unreachable_and_one_mounted_answers() -> None:
    transport = AsgiTransport({"https://a.test": _named("a")})
    transport.mount("https://b.test", _named("b"))
    assert (await transport.post(NAME, "https://b.test/mcp", b"", {}, 10)).status == 200
    transport.unmount("https://a.test")
    with pytest.raises(UpstreamFailure, match=f"^upstream {NAME} is unreachable$"):
        await transport.post(NAME, "https://a.test/mcp", b"", {}, 10)


async def test_an_app_that_raises_is_an_upstream_that_failed(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    transport = AsgiTransport({"https://a.test": broken})
    with pytest.raises(UpstreamFailure, match=f"^upstream {NAME} failed: RuntimeError$"):
        await transport.post(NAME, "https://a.test/mcp", b"", {}, 10)
    assert "boom" in caplog.text, "the app's exception is logged, as a server logs it"


async def test_lifespan_runs_startup_before_the_block_and_shutdown_after() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        while True:
            event = (await receive())["type"]
            seen.append(event)
            await send({"type": f"{event}.complete"})
            if event == "lifespan.shutdown":
                return

    async with lifespan(app):
        assert seen == ["lifespan.startup"]
    assert seen == ["lifespan.startup", "lifespan.shutdown"]


async def test_lifespan_raises_when_startup_fails() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="startup failed: no database")):
        async with lifespan(app):
            pytest.fail("the block ran")
