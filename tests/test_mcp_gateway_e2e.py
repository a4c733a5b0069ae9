"""A real MCP client through the gateway to a real upstream, and what the upstream receives.

The ``mcp`` SDK's ``Client`` over ``streamable_http_client``, authenticated by its
``PrivateKeyJWTOAuthProvider`` (client_credentials + a signed assertion, discovered from the
gateway's 401 and protected-resource metadata), lists and calls the tools of the example upstream
(``examples/upstream_server.py``) in both protocol eras: ``auto`` (2026-07-28, ``server/discover``)
and ``legacy`` (the ``initialize`` handshake). The upstream accepts only the gateway's downstream
tokens and records each one it verified, so the tests can read the claims the gateway minted
(SPEC-NOTES PR-5; DESIGN "The path of one tool call").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from mcp.client.auth import TokenStorage
from mcp.client.auth.extensions.client_credentials import PrivateKeyJWTOAuthProvider
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import TextContent

from examples.agent import MemoryTokenStorage
from examples.upstream_server import build_app
from gateway.config import settings_from
from gateway.settings import Settings
from gateway.upstream.discovery import DISCOVERY_SUBJECT
from tests.support.agents import AgentKey, agent_token
from tests.support.asgi_server import Served
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_clients import http_client
from tests.support.mcp_requests import wait_for_tools
from tests.support.sdk_clients import private_key_jwt_provider
from tests.support.tokens import claims_of

pytestmark = pytest.mark.anyio

AGENT = "sdk-agent"
WEATHER_TOOLS = ["weather__echo", "weather__get_forecast", "weather__list_alerts"]


@dataclass
class Deployment:
    gateway: RunningGateway
    upstream_audience: str
    key: AgentKey
    seen: list[tuple[str, dict[str, Any]]]
    """What the upstream verified: ``(Authorization header, claims)`` per request, in order."""

    @property
    def mcp_url(self) -> str:
        return self.gateway.settings.mcp.resource


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    key = AgentKey()
    store = tmp_path_factory.mktemp("e2e") / "gateway.sqlite3"
    seen: list[tuple[str, dict[str, Any]]] = []
    with Served() as upstream:
        audience = f"{upstream.url}/mcp"

        def settings(port: int) -> Settings:
            return settings_from(
                port=port,
                store=f"sqlite:///{store}",
                servers=({"id": "weather", "url": audience},),
                clients=({"client_id": AGENT, "scopes": ("weather",), "jwks": key.jwks},),
            )

        with running_gateway(settings) as gateway:
            # The gateway's first discovery is already waiting on the bound socket.
            upstream.start(build_app(gateway.issuer, audience, on_token=lambda h, c: seen.append((h, c))))
            yield Deployment(gateway, audience, key, seen)


@pytest.fixture
async def discovered(deployment: Deployment) -> Deployment:
    async with http_client() as http:
        token = await agent_token(http, deployment.gateway, deployment.key, AGENT)
        await wait_for_tools(http, deployment.mcp_url, token, WEATHER_TOOLS)
    return deployment


def sdk_provider(deployment: Deployment, storage: TokenStorage) -> PrivateKeyJWTOAuthProvider:
    return private_key_jwt_provider(deployment.gateway, AGENT, deployment.key, storage)


@pytest.mark.parametrize(("mode", "era"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
async def test_the_mcp_sdk_client_lists_and_calls_tools_through_the_gateway(
    discovered: Deployment, mode: str, era: str
) -> None:
    storage = MemoryTokenStorage()
    async with (
        httpx2.AsyncClient(auth=sdk_provider(discovered, storage), timeout=20) as http,
        Client(streamable_http_client(discovered.mcp_url, http_client=http), mode=mode) as client,
    ):
        assert client.protocol_version == era
        listed = await client.list_tools()
        assert [tool.name for tool in listed.tools] == WEATHER_TOOLS
        assert listed.next_cursor is None

        forecast = await client.call_tool("weather__get_forecast", {"city": "Paris"})
        assert not forecast.is_error
        assert forecast.structured_content is not None
        assert forecast.structured_content["city"] == "Paris"

        echoed = await client.call_tool("weather__echo", {"text": "hello"})
        assert not echoed.is_error
        assert isinstance(echoed.content[0], TextContent)
        assert echoed.content[0].text == f"hello (for {AGENT} via {AGENT})"
    assert storage.tokens is not None, "the SDK provider obtained its token from the gateway"


async def test_pr5_the_upstream_receives_an_exchanged_token_narrowed_to_the_tool_never_the_agents(
    discovered: Deployment,
) -> None:
    storage = MemoryTokenStorage()
    async with (
        httpx2.AsyncClient(auth=sdk_provider(discovered, storage), timeout=20) as http,
        Client(streamable_http_client(discovered.mcp_url, http_client=http), mode="auto") as client,
    ):
        before = len(discovered.seen)
        result = await client.call_tool("weather__get_forecast", {"city": "Lyon"})
        assert not result.is_error
        received = discovered.seen[before:]
    assert storage.tokens is not None
    agent_token_ = storage.tokens.access_token
    agent_claims = claims_of(agent_token_)
    assert agent_claims["scope"] == "weather", "the agent holds the broad scope"

    calls = [(header, claims) for header, claims in received if "act" in claims]
    assert len(calls) == 1, received
    authorization, claims = calls[0]
    assert authorization != f"Bearer {agent_token_}"
    assert agent_token_ not in authorization
    assert claims["aud"] == discovered.upstream_audience
    assert claims["scope"] == "weather:get_forecast", "only the scope of the tool called"
    assert claims["act"] == {"sub": AGENT}
    assert claims["sub"] == agent_claims["sub"]
    assert claims["iss"] == discovered.gateway.issuer
    assert claims["exp"] <= agent_claims["exp"]
    assert claims["jti"] != agent_claims["jti"]
    # Nothing the upstream ever received was the agent's token.
    assert all(agent_token_ not in header for header, _ in discovered.seen)


async def test_discovery_reaches_the_upstream_with_a_downstream_token_of_its_own(
    discovered: Deployment,
) -> None:
    discovery = [claims for _, claims in discovered.seen if claims["sub"] == DISCOVERY_SUBJECT]
    assert discovery, "the upstream verified the token of the gateway's discovery"
    for claims in discovery:
        assert claims["aud"] == discovered.upstream_audience
        assert claims["iss"] == discovered.gateway.issuer
        assert claims["client_id"] == DISCOVERY_SUBJECT
        assert claims["scope"] == "", "discovery carries no scope: it can list, not call"
        assert "act" not in claims
        assert 0 < claims["exp"] - claims["iat"] <= 60
    # An upstream with no discovery token at all is refused (401) before MCP handling.
    async with http_client() as http:
        bare = await http.post(
            discovered.upstream_audience,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
            headers={"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"},
        )
    assert bare.status_code == 401
