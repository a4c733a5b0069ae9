"""Shared pieces of the tests of the MCP path: upstreams under uvicorn, agents' tokens, raw MCP posts.

* :class:`Served`: an ASGI app under uvicorn on a socket bound in advance, so its URL can go into the
  gateway's ``[[servers]]`` before the app exists (the example upstream needs the gateway's issuer).
* :class:`FakeUpstream`: a tiny raw ASGI JSON-RPC server (2026-07-28 era, stateless) whose tool
  count, pagination and failure mode each test chooses; it records what it receives.
* :class:`LoopCapture` / :func:`mint`: sign tokens inside the running gateway, with its own keys.
* Raw MCP requests for both protocol eras, and :func:`wait_for_tools` (discovery is asynchronous).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import anyio
import httpx2
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.composition import Gateway
from tests.agents import AgentKey, assertion_form
from tests.servers import RunningGateway, bound_socket

T = TypeVar("T")

HANDSHAKE_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
ACCEPT = "application/json, text/event-stream"
DISCOVERY_WAIT = 30.0


# -- apps under uvicorn ---------------------------------------------------------------------------


class Served:
    """An ASGI app under uvicorn in a thread of its own, on a socket bound at construction."""

    def __init__(self, *, lifespan: Literal["on", "off"] = "on") -> None:
        self._sock: socket.socket | None = bound_socket()
        self.port: int = self._sock.getsockname()[1]
        self._lifespan = lifespan
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, app: ASGIApp) -> Served:
        assert self._sock is not None and self._server is None
        config = uvicorn.Config(
            app, log_level="warning", lifespan=self._lifespan, timeout_graceful_shutdown=2
        )
        server = self._server = uvicorn.Server(config)
        sock = self._sock
        self._thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started, "the server did not start"
        return self

    def stop(self) -> None:
        """Stop serving and close the socket: the port then refuses connections."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def closed_port_url() -> str:
    """An MCP URL on a loopback port nothing listens on."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/mcp"


# -- a raw JSON-RPC upstream ----------------------------------------------------------------------

GARBAGE_ANSWERS: dict[str, tuple[int, str, bytes]] = {
    "not-json": (200, "text/html", b"<html><body>It works!</body></html>"),
    "not-json-rpc": (200, "application/json", b'{"hello": "world", "tools": []}'),
    "http-500": (
        500,
        "application/json",
        b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": "x"}}',
    ),
}


@dataclass
class FakeUpstream:
    """A 2026-07-28 MCP server in raw ASGI: ``server/discover``, paged ``tools/list``, ``tools/call``.

    ``answers`` is ``"ok"``, ``"slow"`` (wait for the client to give up, never answer) or a key of
    :data:`GARBAGE_ANSWERS`; ``calls_only`` limits a failure mode to ``tools/call`` (discovery
    then succeeds). Every request is recorded as ``(Authorization header, body)``.
    """

    tool_names: list[str] = field(default_factory=lambda: ["ping_tool"])
    page_size: int = 100
    answers: str = "ok"
    calls_only: bool = False
    slow_for: float = 30.0
    seen: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = json.loads(raw)
        headers = dict(scope["headers"])
        self.seen.append((headers.get(b"authorization", b"").decode(), body))
        if "id" not in body:
            await _answer(send, 202, "application/json", b"")
            return
        if body["method"] == "tools/call" and await self.answer_call(body, send):
            return
        failing = self.answers != "ok" and (not self.calls_only or body["method"] == "tools/call")
        if failing and self.answers == "slow":
            with anyio.move_on_after(self.slow_for):
                while (await receive())["type"] != "http.disconnect":
                    pass
            return
        if failing:
            await _answer(send, *GARBAGE_ANSWERS[self.answers])
            return
        result = self._result(body["method"], body.get("params") or {})
        await _answer(
            send, 200, "application/json", json.dumps({"jsonrpc": "2.0", "id": body["id"], **result}).encode()
        )

    async def answer_call(self, body: dict[str, Any], send: Send) -> bool:
        """A subclass's own answer to a ``tools/call`` (True when it sent one)."""
        return False

    def _result(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if method == "server/discover":
            return {
                "result": {
                    "supportedVersions": [MODERN_VERSION],
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "fake", "version": "1"},
                }
            }
        if method == "tools/list":
            start = int(params.get("cursor") or 0)
            chunk = self.tool_names[start : start + self.page_size]
            result: dict[str, Any] = {
                "tools": [
                    {"name": name, "description": f"tool {name}", "inputSchema": {"type": "object"}}
                    for name in chunk
                ]
            }
            if start + self.page_size < len(self.tool_names):
                result["nextCursor"] = str(start + self.page_size)
            return {"result": result}
        if method == "tools/call":
            text = f"{params.get('name')} answered"
            return {"result": {"content": [{"type": "text", "text": text}], "isError": False}}
        return {"error": {"code": -32601, "message": f"method {method} not found"}}


async def _answer(send: Send, status: int, content_type: str, body: bytes) -> None:
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})


# -- signing inside the running gateway -----------------------------------------------------------


class LoopCapture:
    """Passes everything to the gateway's app; remembers the server's event loop."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.loop = self.loop or asyncio.get_running_loop()
        await self.app(scope, receive, send)


def run_in_gateway(capture: LoopCapture, make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on the server's own loop (its store connection lives there)."""
    assert capture.loop is not None, "the gateway has served no request yet"

    async def call() -> T:
        return await make()

    return asyncio.run_coroutine_threadsafe(call(), capture.loop).result(10)


def mint(
    running: RunningGateway,
    capture: LoopCapture,
    *,
    client_id: str,
    scope: str,
    lifetime: int = 300,
    **extra: Any,
) -> str:
    """An access token for the gateway's MCP endpoint, signed by the gateway as its grants sign."""
    gateway: Gateway | None = running.gateway
    assert gateway is not None
    return run_in_gateway(
        capture,
        lambda: gateway.issuer.issue(
            subject=client_id,
            client_id=client_id,
            audience=running.settings.mcp_resource,
            scopes=tuple(scope.split()),
            lifetime=lifetime,
            extra=extra,
        ),
    ).token


# -- agents ---------------------------------------------------------------------------------------


class AuthorizationServer(Protocol):
    """Where an agent gets and revokes tokens (a :class:`RunningGateway`, or one replica of it)."""

    @property
    def issuer(self) -> str: ...

    def endpoint(self, path: str) -> str: ...


async def agent_token(
    http: httpx2.AsyncClient,
    gateway: AuthorizationServer,
    key: AgentKey,
    client_id: str,
    *,
    scope: str | None = None,
    resource: str | None = None,
) -> str:
    """``client_credentials`` with a private_key_jwt assertion (``aud`` = the issuer)."""
    extra = {name: value for name, value in (("scope", scope), ("resource", resource)) if value is not None}
    response = await http.post(
        gateway.endpoint("/token"), data=assertion_form(key.assertion(client_id, gateway.issuer), **extra)
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def revoke(
    http: httpx2.AsyncClient, gateway: AuthorizationServer, key: AgentKey, client_id: str, token: str
) -> None:
    form = assertion_form(key.assertion(client_id, gateway.issuer), token=token)
    del form["grant_type"]
    response = await http.post(gateway.endpoint("/revoke"), data=form)
    assert response.status_code == 200, response.text


# -- raw MCP requests -----------------------------------------------------------------------------


def modern_headers(token: str | None, method: str, name: str | None = None) -> dict[str, str]:
    headers = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": MODERN_VERSION}
    headers["Mcp-Method"] = method
    if name is not None:
        headers["Mcp-Name"] = name
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def modern_body(method: str, params: Mapping[str, Any] | None = None, request_id: int = 1) -> dict[str, Any]:
    meta = {PROTOCOL_VERSION_META: MODERN_VERSION, CLIENT_CAPABILITIES_META: {}}
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**(params or {}), "_meta": meta}}


async def modern(
    http: httpx2.AsyncClient, mcp_url: str, token: str, method: str, params: Mapping[str, Any] | None = None
) -> httpx2.Response:
    """One 2026-07-28 request, with every header the revision asks for."""
    name = params.get("name") if params and method == "tools/call" else None
    return await http.post(
        mcp_url, json=modern_body(method, params), headers=modern_headers(token, method, name)
    )


def handshake_headers(token: str | None, session_id: str | None = None) -> dict[str, str]:
    headers = {
        "Accept": ACCEPT,
        "Content-Type": "application/json",
        "MCP-Protocol-Version": HANDSHAKE_VERSION,
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if session_id is not None:
        headers["Mcp-Session-Id"] = session_id
    return headers


async def initialize(http: httpx2.AsyncClient, mcp_url: str, token: str) -> str:
    """The 2025 handshake: ``initialize`` then ``notifications/initialized``; the session id."""
    body = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": HANDSHAKE_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        },
    }
    response = await http.post(mcp_url, json=body, headers=handshake_headers(token))
    assert response.status_code == 200, response.text
    assert response.json()["result"]["protocolVersion"] == HANDSHAKE_VERSION
    session_id = response.headers["mcp-session-id"]
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    acknowledged = await http.post(mcp_url, json=initialized, headers=handshake_headers(token, session_id))
    assert acknowledged.status_code == 202, acknowledged.text
    return session_id


async def in_session(
    http: httpx2.AsyncClient,
    mcp_url: str,
    token: str,
    session_id: str | None,
    method: str,
    params: Mapping[str, Any] | None = None,
    request_id: int = 1,
) -> httpx2.Response:
    """One handshake-era request in a session."""
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": dict(params or {})}
    return await http.post(mcp_url, json=body, headers=handshake_headers(token, session_id))


async def list_all_tools(http: httpx2.AsyncClient, mcp_url: str, token: str) -> list[list[dict[str, Any]]]:
    """Every page of ``tools/list`` (2026-07-28), following ``nextCursor``."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    for _ in range(100):
        response = await modern(http, mcp_url, token, "tools/list", {"cursor": cursor} if cursor else {})
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        pages.append(result["tools"])
        cursor = result.get("nextCursor")
        if cursor is None:
            return pages
    raise AssertionError("tools/list paginated forever")


def tool_names(pages: Iterable[list[dict[str, Any]]]) -> list[str]:
    return [tool["name"] for page in pages for tool in page]


async def wait_for_tools(
    http: httpx2.AsyncClient,
    mcp_url: str,
    token: str,
    expected: Iterable[str],
    within: float = DISCOVERY_WAIT,
) -> list[str]:
    """Poll ``tools/list`` until every ``expected`` tool is listed (discovery runs in the background)."""
    wanted = set(expected)
    deadline = time.monotonic() + within
    while True:
        names = tool_names(await list_all_tools(http, mcp_url, token))
        if wanted <= set(names):
            return names
        if time.monotonic() > deadline:
            raise AssertionError(f"tools {sorted(wanted - set(names))} never appeared; listed: {names[:20]}")
        await anyio.sleep(0.1)


def challenge_params(header: str) -> dict[str, str]:
    """The auth-params of a ``Bearer`` challenge (quoted values without escapes, as the gateway sends)."""
    assert header.startswith("Bearer "), header
    params: dict[str, str] = {}
    rest = header[len("Bearer ") :]
    while rest:
        name, _, rest = rest.partition("=")
        assert rest.startswith('"'), header
        value, _, rest = rest[1:].partition('"')
        assert name.strip() not in params, f"{name} twice in {header}"
        params[name.strip()] = value
        rest = rest.removeprefix(",").strip()
    return params
