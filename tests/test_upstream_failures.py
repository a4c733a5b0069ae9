"""Upstreams that fail: each failure is one JSON-RPC error, and the other upstreams keep working.

One gateway, several upstreams: the example weather server (healthy throughout), one at an origin
where nothing answers, one that goes away after discovery, one that never answers a ``tools/call``
within its ``timeout`` (1 s), ones that answer ``tools/call`` with garbage (not JSON, JSON that is
not JSON-RPC, HTTP 500), and ones that answer everything, discovery included, with that garbage.
No test asserts a duration; the gateway's own timeout is what ends the slow call.

Everything runs in the test's process, without a socket: the upstreams are ASGI apps behind an
``AsgiTransport`` (an upstream that is "down" or "gone" is one no app is mounted for, which fails
exactly as a refused connection does), and agents reach the gateway through ``httpx2.ASGITransport``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest

from gateway.composition import Gateway
from gateway.config import settings_from
from gateway.upstream.asgi_transport import AsgiTransport
from tests.support.agents import AgentKey, agent_token
from tests.support.fake_upstream import GARBAGE_ANSWERS, FakeUpstream
from tests.support.inprocess import GATEWAY_URL, InProcessGateway, gateway_in_front_of_weather, http_reaches
from tests.support.mcp_requests import list_all_tools, modern, tool_names, wait_for_tools

pytestmark = pytest.mark.anyio

AGENT = "agent"
GARBAGE_ON_CALL = {f"call-{kind}": kind for kind in GARBAGE_ANSWERS}
GARBAGE_ALWAYS = {f"junk-{kind}": kind for kind in GARBAGE_ANSWERS}
SERVER_IDS = ["weather", "down", "vanishing", "slow", *GARBAGE_ON_CALL, *GARBAGE_ALWAYS]
ORIGINS = {server_id: f"https://{server_id}.test" for server_id in SERVER_IDS}


@dataclass
class Upstreams:
    gateway: InProcessGateway
    key: AgentKey
    transport: AsgiTransport
    fakes: dict[str, FakeUpstream]

    @property
    def mcp(self) -> str:
        return self.gateway.settings.mcp.resource

    @property
    def wired(self) -> Gateway:
        return self.gateway.gateway

    def health(self) -> dict[str, Any]:
        return {server_id: health.as_dict() for server_id, health in self.wired.catalog.health().items()}


@pytest.fixture(scope="module")
async def upstreams(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Upstreams]:
    key = AgentKey()
    store = tmp_path_factory.mktemp("failures") / "gateway.sqlite3"
    fakes: dict[str, FakeUpstream] = {
        "vanishing": FakeUpstream(),
        "slow": FakeUpstream(answers="slow", calls_only=True),
        **{
            server_id: FakeUpstream(answers=kind, calls_only=True)
            for server_id, kind in GARBAGE_ON_CALL.items()
        },
        **{server_id: FakeUpstream(answers=kind) for server_id, kind in GARBAGE_ALWAYS.items()},
    }
    transport = AsgiTransport({ORIGINS[server_id]: app for server_id, app in fakes.items()})
    servers: list[dict[str, Any]] = [{"id": s, "url": f"{ORIGINS[s]}/mcp"} for s in SERVER_IDS]
    for server in servers:
        if server["id"] == "slow":
            server["timeout"] = 1.0
    settings = settings_from(
        public_url=GATEWAY_URL,
        store=f"sqlite:///{store}",
        servers=tuple(servers),
        clients=({"client_id": AGENT, "scopes": tuple(SERVER_IDS), "jwks": key.jwks},),
    )
    # "down" stays unmounted: nothing answers there
    async with gateway_in_front_of_weather(settings, transport, ORIGINS["weather"]) as gateway:
        yield Upstreams(gateway, key, transport, fakes)


http_transport = http_reaches("upstreams")


@pytest.fixture
async def token(upstreams: Upstreams, http: httpx2.AsyncClient) -> str:
    token = await agent_token(http, upstreams.gateway, upstreams.key, AGENT)
    expected = ["weather__get_forecast", "vanishing__ping_tool", "slow__ping_tool"]
    await wait_for_tools(
        http, upstreams.mcp, token, [*expected, *(f"{s}__ping_tool" for s in GARBAGE_ON_CALL)]
    )
    deadline = anyio.current_time() + 30
    while not {"down", *GARBAGE_ALWAYS} <= set(upstreams.health()):
        assert anyio.current_time() < deadline, upstreams.health()
        await anyio.sleep(0.1)
    return token


async def call(
    http: httpx2.AsyncClient,
    upstreams: Upstreams,
    token: str,
    name: str,
    arguments: dict[str, Any] | None = None,
) -> httpx2.Response:
    return await modern(
        http, upstreams.mcp, token, "tools/call", {"name": name, "arguments": arguments or {}}
    )


def assert_upstream_error(response: httpx2.Response, server_id: str, *words: str) -> dict[str, Any]:
    """One JSON-RPC error answering the call, naming the upstream, carrying no token."""
    assert response.status_code in (200, 502, 503, 504), response.text
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] == 1
    assert "result" not in body
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], int)
    assert server_id in error["message"], error
    for word in words:
        assert word in error["message"], error
    assert "eyJ" not in response.text and "Bearer" not in response.text
    return error


async def assert_weather_works(http: httpx2.AsyncClient, upstreams: Upstreams, token: str) -> None:
    response = await call(http, upstreams, token, "weather__get_forecast", {"city": "Bergen"})
    assert response.status_code == 200, response.text
    assert response.json()["result"]["structuredContent"]["city"] == "Bergen"


async def test_an_upstream_that_is_down_is_unhealthy_and_the_others_keep_working(
    upstreams: Upstreams, http: httpx2.AsyncClient, token: str
) -> None:
    health = upstreams.health()
    assert health["down"]["healthy"] is False
    assert "unreachable" in health["down"]["reason"]
    assert health["weather"]["healthy"] is True
    names = tool_names(await list_all_tools(http, upstreams.mcp, token))
    assert not [name for name in names if name.startswith("down.")]
    response = await call(http, upstreams, token, "down__anything")
    assert response.json()["error"]["code"] == -32602, "no tool of that server was ever discovered"
    await assert_weather_works(http, upstreams, token)


async def test_an_upstream_slower_than_its_timeout_gives_a_jsonrpc_error_while_others_answer(
    upstreams: Upstreams, http: httpx2.AsyncClient, token: str
) -> None:
    responses: dict[str, httpx2.Response] = {}
    slow_upstream = upstreams.fakes["slow"]
    calls_before = len(slow_upstream.seen)

    async def slow() -> None:
        responses["slow"] = await call(http, upstreams, token, "slow__ping_tool")

    async def weather_meanwhile() -> None:
        with anyio.fail_after(10):  # the slow upstream has the call and will never answer it
            while not [b for _, b in slow_upstream.seen[calls_before:] if b["method"] == "tools/call"]:
                await anyio.sleep(0.01)
        await assert_weather_works(http, upstreams, token)

    async with anyio.create_task_group() as group:
        group.start_soon(slow)
        group.start_soon(weather_meanwhile)
    error = assert_upstream_error(responses["slow"], "slow", "did not answer within 1 s")
    assert error["data"] == {"upstream": "slow"}
    await assert_weather_works(http, upstreams, token)


@pytest.mark.parametrize("server_id", list(GARBAGE_ON_CALL))
async def test_an_upstream_answering_a_call_with_garbage_gives_a_jsonrpc_error(
    upstreams: Upstreams, http: httpx2.AsyncClient, token: str, server_id: str
) -> None:
    response = await call(http, upstreams, token, f"{server_id}__ping_tool")
    error = assert_upstream_error(response, server_id)
    assert error["data"] == {"upstream": server_id}
    if GARBAGE_ON_CALL[server_id] == "http-500":
        assert "HTTP 500" in error["message"]
    else:
        assert "invalid JSON-RPC" in error["message"]
    await assert_weather_works(http, upstreams, token)


@pytest.mark.parametrize("server_id", list(GARBAGE_ALWAYS))
async def test_an_upstream_answering_discovery_with_garbage_is_marked_unhealthy(
    upstreams: Upstreams, http: httpx2.AsyncClient, token: str, server_id: str
) -> None:
    health = upstreams.health()[server_id]
    assert health["healthy"] is False
    assert server_id in health["reason"]
    assert health["tools"] == 0
    names = tool_names(await list_all_tools(http, upstreams.mcp, token))
    assert not [name for name in names if name.startswith(f"{server_id}.")]
    assert "weather__get_forecast" in names
    await assert_weather_works(http, upstreams, token)


async def test_a_tool_of_an_upstream_gone_after_discovery_gives_a_jsonrpc_error_naming_it(
    upstreams: Upstreams, http: httpx2.AsyncClient, token: str
) -> None:
    working = await call(http, upstreams, token, "vanishing__ping_tool")
    assert working.json()["result"]["content"][0]["text"] == "ping_tool answered"
    upstreams.transport.unmount(ORIGINS["vanishing"])  # gone: calls now fail as on a refused connection

    gone = await call(http, upstreams, token, "vanishing__ping_tool")
    error = assert_upstream_error(gone, "vanishing", "unreachable")
    assert error["data"] == {"upstream": "vanishing"}
    await assert_weather_works(http, upstreams, token)

    # The next discovery marks it unhealthy: its tools are hidden and a call fails at once, still
    # with a JSON-RPC error that names the upstream.
    server = await upstreams.wired.servers.get("vanishing")
    assert server is not None
    summary = await upstreams.wired.discovery.refresh(server)
    assert summary["healthy"] is False
    names = tool_names(await list_all_tools(http, upstreams.mcp, token))
    assert "vanishing__ping_tool" not in names
    assert "weather__get_forecast" in names
    hidden = await call(http, upstreams, token, "vanishing__ping_tool")
    assert_upstream_error(hidden, "vanishing", "unavailable")
    await assert_weather_works(http, upstreams, token)
