"""What ``tools/list`` shows each agent: only the tools its scopes cover, in one order, in pages.

Two upstreams behind one gateway: the example weather server (``echo`` configured to need two
scopes, the other tools their default ``weather:<tool>``) and a raw JSON-RPC upstream with 250
tools that it lists in a shuffled order, 60 per page. Agents hold different scopes; the
catalogue pages by 100 with an opaque ``nextCursor``.

The gateway and both upstreams run in the test's process (the upstreams behind an
``AsgiTransport``); agents, the ``mcp`` SDK's client among them, reach the gateway through an ASGI
transport. No socket is the point here: what each agent is shown is.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from gateway.config import settings_from
from gateway.upstream.asgi_transport import AsgiTransport
from tests.support.agents import AgentKey, agent_token
from tests.support.fake_upstream import FakeUpstream
from tests.support.inprocess import GATEWAY_URL, InProcessGateway, gateway_in_front_of_weather, http_reaches
from tests.support.mcp_requests import (
    in_session,
    initialize,
    list_all_tools,
    modern,
    tool_names,
    wait_for_tools,
)

pytestmark = pytest.mark.anyio

BULK_TOOLS = [f"tool_{i:03d}" for i in range(250)]
AGENT_SCOPES = {
    "forecaster": ("weather:get_forecast",),
    "operator": ("weather:echo", "weather:admin", "weather:list_alerts"),
    "half-echo": ("weather:echo",),
    "bulk-reader": ("bulk",),
    "admin": ("weather", "bulk"),
}
WEATHER_TOOLS = ["weather__echo", "weather__get_forecast", "weather__list_alerts"]
WEATHER_ORIGIN, BULK_ORIGIN = "https://weather.test", "https://bulk.test"


@dataclass
class Catalogue:
    gateway: InProcessGateway
    keys: dict[str, AgentKey]
    bulk: FakeUpstream

    @property
    def mcp(self) -> str:
        return self.gateway.settings.mcp.resource

    async def token(self, http: httpx2.AsyncClient, client_id: str) -> str:
        return await agent_token(http, self.gateway, self.keys[client_id], client_id)


@pytest.fixture(scope="module")
async def catalogue(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Catalogue]:
    keys = {client_id: AgentKey() for client_id in AGENT_SCOPES}
    store = tmp_path_factory.mktemp("catalogue") / "gateway.sqlite3"
    shuffled = list(BULK_TOOLS)
    random.Random(7).shuffle(shuffled)
    bulk = FakeUpstream(tool_names=shuffled, page_size=60)
    transport = AsgiTransport({BULK_ORIGIN: bulk})
    settings = settings_from(
        public_url=GATEWAY_URL,
        store=f"sqlite:///{store}",
        servers=(
            {
                "id": "weather",
                "url": f"{WEATHER_ORIGIN}/mcp",
                "tool_scopes": {"echo": ["weather:echo", "weather:admin"]},
            },
            {"id": "bulk", "url": f"{BULK_ORIGIN}/mcp"},
        ),
        clients=tuple(
            {"client_id": client_id, "scopes": scopes, "jwks": keys[client_id].jwks}
            for client_id, scopes in AGENT_SCOPES.items()
        ),
    )
    async with gateway_in_front_of_weather(settings, transport, WEATHER_ORIGIN) as gateway:
        yield Catalogue(gateway, keys, bulk)


http_transport = http_reaches("catalogue")


@pytest.fixture
async def discovered(catalogue: Catalogue, http: httpx2.AsyncClient) -> Catalogue:
    token = await catalogue.token(http, "admin")
    await wait_for_tools(http, catalogue.mcp, token, [*WEATHER_TOOLS, "bulk__tool_249"])
    return catalogue


async def test_agents_with_different_scopes_see_different_tools(
    discovered: Catalogue, http: httpx2.AsyncClient
) -> None:
    seen = {
        client_id: tool_names(
            await list_all_tools(http, discovered.mcp, await discovered.token(http, client_id))
        )
        for client_id in AGENT_SCOPES
    }
    assert seen["forecaster"] == ["weather__get_forecast"]
    assert seen["operator"] == ["weather__echo", "weather__list_alerts"]
    assert seen["half-echo"] == [], "echo needs both of its scopes"
    assert seen["bulk-reader"] == [f"bulk__{name}" for name in BULK_TOOLS]
    assert seen["admin"] == sorted([*WEATHER_TOOLS, *(f"bulk__{name}" for name in BULK_TOOLS)])


async def test_an_agent_can_call_what_it_sees(discovered: Catalogue, http: httpx2.AsyncClient) -> None:
    operator = await discovered.token(http, "operator")
    echoed = await modern(
        http, discovered.mcp, operator, "tools/call", {"name": "weather__echo", "arguments": {"text": "x"}}
    )
    assert echoed.status_code == 200, echoed.text
    assert echoed.json()["result"]["content"][0]["text"] == "x (for operator via operator)"
    bulk_reader = await discovered.token(http, "bulk-reader")
    called = await modern(
        http, discovered.mcp, bulk_reader, "tools/call", {"name": "bulk__tool_123", "arguments": {}}
    )
    assert called.status_code == 200, called.text
    assert called.json()["result"]["content"][0]["text"] == "tool_123 answered"
    assert called.json()["result"]["isError"] is False


async def test_tools_list_order_is_deterministic(discovered: Catalogue, http: httpx2.AsyncClient) -> None:
    token = await discovered.token(http, "admin")
    first = await list_all_tools(http, discovered.mcp, token)
    names = tool_names(first)
    assert names == sorted(names), "sorted by exposed name, whatever order the upstreams list in"
    assert len(set(names)) == len(names)
    for _ in range(3):
        assert await list_all_tools(http, discovered.mcp, token) == first
    session_id = await initialize(http, discovered.mcp, token)
    handshake_names: list[str] = []
    cursor: str | None = None
    for request_id in range(1, 10):
        response = await in_session(
            http,
            discovered.mcp,
            token,
            session_id,
            "tools/list",
            {"cursor": cursor} if cursor else {},
            request_id,
        )
        result = response.json()["result"]
        handshake_names += [tool["name"] for tool in result["tools"]]
        cursor = result.get("nextCursor")
        if cursor is None:
            break
    assert handshake_names == names, "both protocol eras list the same tools in the same order"


async def test_a_large_catalogue_is_paginated_with_next_cursor(
    discovered: Catalogue, http: httpx2.AsyncClient
) -> None:
    token = await discovered.token(http, "bulk-reader")
    pages = await list_all_tools(http, discovered.mcp, token)
    assert [len(page) for page in pages] == [100, 100, 50]
    assert tool_names(pages) == [f"bulk__{name}" for name in BULK_TOOLS]
    first = (await modern(http, discovered.mcp, token, "tools/list")).json()["result"]
    assert isinstance(first["nextCursor"], str) and first["nextCursor"]
    # The gateway followed the upstream's own pagination (60 per page) when it discovered the tools.
    cursors = [
        body["params"].get("cursor") for _, body in discovered.bulk.seen if body["method"] == "tools/list"
    ]
    assert {None, "60", "120", "180", "240"} <= set(cursors)


async def test_a_cursor_the_gateway_did_not_issue_is_invalid_params(
    discovered: Catalogue, http: httpx2.AsyncClient
) -> None:
    token = await discovered.token(http, "bulk-reader")
    for cursor in ("not-a-cursor", "", "Zm9v", 7):
        response = await modern(http, discovered.mcp, token, "tools/list", {"cursor": cursor})
        assert response.status_code == 400, (cursor, response.text)
        assert response.json()["error"]["code"] == -32602


async def test_the_mcp_sdk_client_pages_through_the_catalogue(
    discovered: Catalogue, http: httpx2.AsyncClient
) -> None:
    token = await discovered.token(http, "admin")
    names: list[str] = []
    async with (
        httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {token}"},
            timeout=20,
            transport=discovered.gateway.streaming_transport(),
        ) as authorized,
        Client(streamable_http_client(discovered.mcp, http_client=authorized), mode="auto") as client,
    ):
        cursor: str | None = None
        for _ in range(10):
            page = await client.list_tools(cursor=cursor)
            names += [tool.name for tool in page.tools]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert names == tool_names(await list_all_tools(http, discovered.mcp, token))
    assert len(names) == 253
