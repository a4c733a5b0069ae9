"""An upstream answer larger than one network read is read whole (the hop reads until the end)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ClientConfig, Settings
from tests.support.agents import AgentKey, agent_token
from tests.support.asgi_server import Served
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway_server import running_gateway
from tests.support.http_clients import http_client
from tests.support.mcp_requests import wait_for_tools

pytestmark = pytest.mark.anyio


async def test_a_tools_list_page_of_several_hundred_kilobytes_is_discovered_whole(tmp_path: Path) -> None:
    key = AgentKey()
    names = [f"tool_{i:04d}_{'x' * 90}" for i in range(2000)]
    upstream = FakeUpstream(tool_names=names, page_size=2000)  # one page, well over 500 KB
    with Served(lifespan="off").start(upstream) as served:

        def settings(port: int) -> Settings:
            return Settings(
                port=port,
                store=f"sqlite:///{tmp_path / 'gw.sqlite3'}",
                servers=({"id": "big", "url": f"{served.url}/mcp"},),
                clients=(ClientConfig(client_id="agent", scopes=("big",), jwks=key.jwks),),
            )

        with running_gateway(settings) as gateway:
            async with http_client() as http:
                token = await agent_token(http, gateway, key, "agent")
                listed = await wait_for_tools(http, gateway.endpoint("/mcp"), token, [f"big.{names[-1]}"])
    assert len(listed) == 2000
