"""The configuration ``make run`` writes works, as is, with MCP hosts that register themselves.

The official SDKs, Python and TypeScript (v1, under Node 22), each play the host a person uses: it
finds the gateway from the 401, registers by DCR (nothing pre-registered), runs the authorization
code flow with a person who signs in and consents, lists the tools, calls the example weather tool,
and refreshes its token. The gateway runs under uvicorn on the demo's configuration file (only its
port and store differ); the example upstream is served in process at the address the
configuration names.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from pydantic import AnyUrl

from examples.agent import MemoryTokenStorage, ask_and_wait
from examples.run_demo import AGENT, AGENT_SCOPES, DEMO_CONFIG, READ_SCOPES, UPSTREAM_URL
from gateway.config import load_settings
from gateway.settings import Settings
from tests.support.agents import AgentKey
from tests.support.cli import Cli
from tests.support.gateway_server import RunningGateway
from tests.support.sdk_clients import SdkBrowser, private_key_jwt_provider, signed_assertions
from tests.support.ts_sdk import run_ts_host
from tests.support.users import signed_up
from tests.support.weather_gateway import gateway_before_weather

pytestmark = pytest.mark.anyio

HOST_REDIRECT = "http://127.0.0.1:9/callback"


@pytest.fixture
def demo_gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    config = tmp_path / "demo.toml"
    config.write_text(DEMO_CONFIG)
    store = f"sqlite:///{tmp_path / 'gw.sqlite3'}"

    def settings(port: int) -> Settings:
        return load_settings(str(config), environ={}, overrides={"port": port, "store": store})

    with gateway_before_weather(settings, UPSTREAM_URL) as gateway:
        yield gateway


async def test_an_mcp_host_registering_itself_lists_and_calls_tools_and_refreshes(
    demo_gateway: RunningGateway,
) -> None:
    async with signed_up(demo_gateway.settings.server.store) as person:
        browser = SdkBrowser(person)
        storage = MemoryTokenStorage()
        provider = OAuthClientProvider(
            server_url=f"{demo_gateway.url}/mcp",
            client_metadata=OAuthClientMetadata(
                redirect_uris=[AnyUrl(HOST_REDIRECT)],
                client_name="An MCP host",
                token_endpoint_auth_method="none",
            ),
            storage=storage,
            redirect_handler=browser.redirect_handler,
            callback_handler=browser.callback_handler,
        )
        async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
            transport = streamable_http_client(f"{demo_gateway.url}/mcp", http_client=http)
            async with Client(transport) as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                assert {"weather__get_forecast", "weather__list_alerts"} <= names
                assert "weather__echo" not in names, "a self-registered host holds only the read tools"
                result = await client.call_tool("weather__get_forecast", {"city": "Paris"})
                assert not result.is_error, result
                assert storage.tokens is not None and storage.tokens.refresh_token
                first = storage.tokens
                provider.context.token_expiry_time = time.time() - 1  # the SDK must refresh now
                again = await client.call_tool("weather__get_forecast", {"city": "Oslo"})
                assert not again.is_error, again
        assert storage.tokens is not None and storage.tokens.access_token != first.access_token
        assert storage.client_info is not None and storage.client_info.client_id
        assert set(str(storage.tokens.scope).split()) == set(READ_SCOPES)
        assert len(browser.authorize_urls) == 1, "one sign-in, then refreshes without the person"


async def test_the_typescript_sdk_registering_itself_lists_and_calls_tools_and_refreshes(
    demo_gateway: RunningGateway,
) -> None:
    async with signed_up(demo_gateway.settings.server.store) as person:
        report = await run_ts_host(
            person,
            mcp_url=f"{demo_gateway.url}/mcp",
            redirect_uri=HOST_REDIRECT,
            tool="weather__get_forecast",
            arguments={"city": "Paris"},
        )
    assert {"weather__get_forecast", "weather__list_alerts"} <= set(report["tools"])
    assert "weather__echo" not in report["tools"], "a self-registered host holds only the read tools"
    for result in (report["first"], report["second"]):
        assert not result.get("isError"), result
        assert "Paris" in json.dumps(result["content"])
    assert report["registrations"] == 1 and report["clientId"]
    assert len(report["authorizeUrls"]) == 1, "one sign-in, then a refresh without the person"
    assert len(set(report["accessTokens"])) == 2, "the call after the revocation used a refreshed token"
    assert set(report["scope"].split()) == set(READ_SCOPES)


async def test_ap3_the_demo_agent_asks_for_the_tool_it_lacks_and_calls_it_once_approved_with_the_cli(
    demo_gateway: RunningGateway, tmp_path: Path
) -> None:
    """What ``make run`` shows: the demo agent holds the read tools, asks for ``weather:echo``,
    waits; an operator approves it with the CLI; the agent's next connection lists and calls it."""
    cli = Cli(store=demo_gateway.settings.server.store, cwd=tmp_path, config=tmp_path / "demo.toml")
    key = AgentKey()
    reads = [arg for scope in AGENT_SCOPES for arg in ("--scope", scope)]
    added = cli.run("clients", "add", AGENT, *reads, "--jwks", json.dumps(key.jwks))
    assert added.returncode == 0, added.stderr

    async def approve_with_the_cli() -> None:
        while not (
            pending := await anyio.to_thread.run_sync(cli.json, "approvals", "list", "--status", "pending")
        ):
            await anyio.sleep(0.2)
        approved = await anyio.to_thread.run_sync(
            cli.run, "approvals", "approve", pending[0]["request_id"], "--duration", "3600", "--as", "sec-ops"
        )
        assert approved.returncode == 0, approved.stderr

    async with httpx2.AsyncClient(timeout=30) as http, anyio.create_task_group() as group:
        group.start_soon(approve_with_the_cli)
        status = await ask_and_wait(
            http,
            demo_gateway.issuer,
            signed_assertions(AGENT, key),
            ["weather:echo"],
            "demo",
            say=lambda _: None,
        )
    assert status["status"] == "approved"

    provider = private_key_jwt_provider(demo_gateway, AGENT, key, MemoryTokenStorage())
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as sdk_http,
        Client(streamable_http_client(f"{demo_gateway.url}/mcp", http_client=sdk_http)) as client,
    ):
        assert "weather__echo" in {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("weather__echo", {"text": "hi"})
        assert not result.is_error, result
