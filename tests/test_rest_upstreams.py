"""A REST API registered by its OpenAPI document, end to end: the SDK client lists and calls its
operations through the gateway, and the API sees only exchanged tokens (OA-5, OA-6).

The notes API (:mod:`tests.support.notes_api`) runs under uvicorn on loopback and verifies every
bearer token with the gateway's JWKS; the gateway fetches its document from ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import TextContent

from examples.agent import MemoryTokenStorage
from gateway.config import settings_from
from gateway.settings import Settings
from tests.support.agents import AgentKey, agent_token
from tests.support.asgi_server import Served
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_clients import http_client
from tests.support.mcp_requests import wait_for_tools
from tests.support.notes_api import NotesApi
from tests.support.sdk_clients import private_key_jwt_provider
from tests.support.tokens import claims_of

pytestmark = pytest.mark.anyio

WRITER, READER = "notes-writer", "notes-reader"
ALL_TOOLS = ["notes__createNote", "notes__deleteNote", "notes__getNote", "notes__listNotes"]


@dataclass
class Deployment:
    gateway: RunningGateway
    api: NotesApi
    audience: str
    key: AgentKey


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    key = AgentKey()
    store = tmp_path_factory.mktemp("rest") / "gateway.sqlite3"
    api = NotesApi()
    with Served() as served:
        audience = served.url

        def settings(port: int) -> Settings:
            return settings_from(
                port=port,
                store=f"sqlite:///{store}",
                fetch_allowed_private_hosts=("127.0.0.1",),
                servers=(
                    {
                        "id": "notes",
                        "openapi": f"{served.url}/openapi.json",
                        "base_url": served.url,
                        "refresh_interval": 1,
                    },
                ),
                clients=(
                    {"client_id": WRITER, "scopes": ("notes",), "jwks": key.jwks},
                    {"client_id": READER, "scopes": ("notes:read",), "jwks": key.jwks},
                ),
            )

        with running_gateway(settings) as gateway:
            served.start(api.app(gateway.issuer, audience))
            yield Deployment(gateway, api, audience, key)


@pytest.fixture
async def discovered(deployment: Deployment) -> Deployment:
    async with http_client() as http:
        token = await agent_token(http, deployment.gateway, deployment.key, WRITER)
        await wait_for_tools(http, deployment.gateway.settings.mcp.resource, token, ALL_TOOLS)
    return deployment


def _client(deployment: Deployment, agent: str, storage: MemoryTokenStorage) -> httpx2.AsyncClient:
    provider = private_key_jwt_provider(deployment.gateway, agent, deployment.key, storage)
    return httpx2.AsyncClient(auth=provider, timeout=20)


async def test_oa5_a_rest_call_carries_an_exchanged_token_for_the_api_with_the_operations_scope(
    discovered: Deployment,
) -> None:
    storage = MemoryTokenStorage()
    mcp_url = discovered.gateway.settings.mcp.resource
    async with (
        _client(discovered, WRITER, storage) as http,
        Client(streamable_http_client(mcp_url, http_client=http)) as client,
    ):
        listed = await client.list_tools()
        assert sorted(tool.name for tool in listed.tools) == ALL_TOOLS
        before = len(discovered.api.received)
        got = await client.call_tool("notes__getNote", {"id": "1"})
        assert not got.is_error, got
        assert got.structured_content == {"id": "1", "text": "buy milk"}
        created = await client.call_tool("notes__createNote", {"body": {"text": "call mum"}})
        assert not created.is_error, created
        received = discovered.api.received[before:]
    assert storage.tokens is not None
    agent = storage.tokens.access_token
    assert [(method, path) for _, _, method, path in received] == [("GET", "/notes/1"), ("POST", "/notes")]
    for (header, claims, _, _), scope in zip(received, ("notes:read", "notes:write"), strict=True):
        assert agent not in header
        assert claims["aud"] == discovered.audience
        assert claims["scope"] == scope
        assert claims["act"] == {"sub": WRITER}
        assert claims["sub"] == claims_of(agent)["sub"]


async def test_oa4_a_non_2xx_answer_is_a_tool_error_with_its_status(discovered: Deployment) -> None:
    mcp_url = discovered.gateway.settings.mcp.resource
    async with (
        _client(discovered, WRITER, MemoryTokenStorage()) as http,
        Client(streamable_http_client(mcp_url, http_client=http)) as client,
    ):
        missing = await client.call_tool("notes__getNote", {"id": "404"})
    assert missing.is_error
    assert isinstance(missing.content[0], TextContent)
    assert missing.content[0].text.startswith("HTTP 404")


async def test_oa6_arguments_the_operation_cannot_take_are_a_tool_error(discovered: Deployment) -> None:
    mcp_url = discovered.gateway.settings.mcp.resource
    before = len(discovered.api.received)
    async with (
        _client(discovered, WRITER, MemoryTokenStorage()) as http,
        Client(streamable_http_client(mcp_url, http_client=http)) as client,
    ):
        result = await client.call_tool("notes__getNote", {"id": ".."})
    assert result.is_error
    assert isinstance(result.content[0], TextContent)
    assert "invalid arguments" in result.content[0].text
    assert len(discovered.api.received) == before, "nothing was sent"


async def test_oa5_an_agent_without_the_write_scope_neither_sees_nor_calls_a_write_operation(
    discovered: Deployment,
) -> None:
    mcp_url = discovered.gateway.settings.mcp.resource
    async with (
        _client(discovered, READER, MemoryTokenStorage()) as http,
        Client(streamable_http_client(mcp_url, http_client=http)) as client,
    ):
        listed = await client.list_tools()
        assert sorted(tool.name for tool in listed.tools) == ["notes__getNote", "notes__listNotes"]
        with pytest.raises(Exception):
            await client.call_tool("notes__deleteNote", {"id": "1"})
    assert "1" in discovered.api.notes
