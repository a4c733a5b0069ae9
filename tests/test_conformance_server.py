"""The official MCP conformance suite's ``server`` command against the gateway's ``/mcp``.

The gateway runs in front of the example upstream (``examples/upstream_server.py``, tools
``weather__get_forecast``, ``weather__list_alerts``, ``weather__echo``). The suite sends no token, so
it talks to :mod:`tests.support.token_proxy`, which adds a real access token (client_credentials with
``private_key_jwt``, scope ``weather``) and passes everything else through untouched — the product
has no unauthenticated path. The gateway is configured to be served under the proxy's address
(``allowed_hosts`` / ``allowed_origins``), as behind any reverse proxy.

Needs ``make conformance-deps`` (``make test`` runs it); without it these tests fail, never skip.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest

from examples.upstream_server import build_app
from gateway.config import settings_from
from gateway.settings import Settings
from tests.support.agents import AgentKey, agent_token
from tests.support.asgi_server import Served
from tests.support.conformance import ScenarioResult, run_server_scenario
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.mcp_requests import modern_body, modern_headers, wait_for_tools
from tests.support.token_proxy import TokenInjectingProxy

pytestmark = pytest.mark.conformance

AGENT = "conformance-agent"
HANDSHAKE, MODERN = "2025-11-25", "2026-07-28"
WEATHER_TOOLS = {"weather__get_forecast", "weather__list_alerts", "weather__echo"}
DISCOVERY_WITHIN = 30.0

SCENARIOS = [
    ("server-initialize", HANDSHAKE),
    ("tools-list", HANDSHAKE),
    ("tools-list", MODERN),
    ("server-session-lifecycle", HANDSHAKE),
    ("server-stateless", MODERN),
    ("http-header-validation", MODERN),
    ("dns-rebinding-protection", HANDSHAKE),
    ("dns-rebinding-protection", MODERN),
]
"""Each scenario at every revision of the two it is defined for (``dist/index.js list``)."""


UNTESTABLE_THROUGH_A_GATEWAY = {
    "server-stateless": {
        "sep-2575-server-rejects-undeclared-capability": "test_missing_capability",
        "sep-2575-missing-capability-http-400": "test_missing_capability",
        "sep-2575-http-server-no-independent-requests-on-stream": "test_streaming_elicitation",
        "sep-2575-server-no-log-without-loglevel": "test_logging_tool",
    },
}
"""Checks the suite itself reports "Not testable" (``details.untestable``) unless the server lists
a diagnostic tool of that exact name. The gateway only lists an upstream's tools under the
upstream's id (``weather__echo``), so no upstream can supply one; and here it sends no request to
the client (the weather upstream may ask for nothing, UP-5; no log notifications unasked, UP-3),
which is what these tools probe.
They are handed to the suite as its ``--expected-failures`` baseline: the run fails if any other
check fails, or if one of these stops failing (a stale baseline)."""


@dataclass(frozen=True)
class Target:
    """What the suite is pointed at, and what stands behind it."""

    url: str
    gateway: RunningGateway
    token: str


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """Upstream, gateway and token proxy, each on a free loopback port, for the whole module.

    The proxy's socket is bound first so the gateway can be told the name it is served under."""
    key = AgentKey()
    with (
        Served(server_header=False, date_header=False) as upstream,
        Served(server_header=False, date_header=False) as proxy_server,
    ):
        upstream_url = f"{upstream.url}/mcp"
        proxy_host = f"127.0.0.1:{proxy_server.port}"

        def settings(port: int) -> Settings:
            return settings_from(
                port=port,
                store="memory://",
                access_token_ttl=3600,
                servers=({"id": "weather", "url": upstream_url},),
                clients=({"client_id": AGENT, "scopes": ("weather",), "jwks": key.jwks},),
                allowed_hosts=(proxy_host,),
                allowed_origins=(f"http://{proxy_host}",),
            )

        with running_gateway(settings) as gateway:
            upstream.start(build_app(gateway.issuer, upstream_url))
            mcp = gateway.endpoint(gateway.settings.mcp.mcp_path)
            token = asyncio.run(discovered_token(gateway, key, mcp))
            proxy_server.start(TokenInjectingProxy(mcp, token))
            yield Target(f"http://{proxy_host}{gateway.settings.mcp.mcp_path}", gateway, token)


async def discovered_token(gateway: RunningGateway, key: AgentKey, mcp: str) -> str:
    """The agent's token (``private_key_jwt``, scope ``weather``), once the upstream's tools are listed."""
    async with httpx2.AsyncClient(trust_env=False, timeout=10) as http:
        token = await agent_token(
            http, gateway, key, AGENT, scope="weather", resource=gateway.settings.mcp.resource
        )
        await wait_for_tools(http, mcp, token, WEATHER_TOOLS, within=DISCOVERY_WITHIN)
    return token


def report(result: ScenarioResult) -> str:
    failing = [c for c in result.checks if c.get("status") in ("FAILURE", "WARNING")]
    lines = [
        f"  [{c.get('status')}] {c.get('id')}: {c.get('errorMessage') or c.get('description')}"
        for c in failing
    ]
    return f"{result.scenario}: failing checks\n" + "\n".join(lines) + "\n\n" + result.summary()


@pytest.mark.parametrize(("scenario", "spec_version"), SCENARIOS, ids=[f"{s}@{v}" for s, v in SCENARIOS])
def test_conformance_server_scenario_passes_through_the_gateway(
    target: Target, scenario: str, spec_version: str
) -> None:
    untestable = UNTESTABLE_THROUGH_A_GATEWAY.get(scenario, {})
    result = run_server_scenario(target.url, scenario, spec_version, sorted(untestable))

    assert result.run.exit_code == 0 and result.checks, report(result)
    failed = {str(c["id"]) for c in result.failures}
    assert failed <= set(untestable), report(result)
    for check in result.failures:  # the suite's own "Not testable" verdicts, nothing else
        assert check.get("details", {}).get("untestable") is True, report(result)


def test_a_rebinding_attempt_is_refused_by_the_gateway_not_the_proxy(target: Target) -> None:
    """The suite's ``evil.example.com`` probe reaches the gateway's Host guard: 421, its body."""
    result = run_server_scenario(target.url, "dns-rebinding-protection", MODERN)

    refused = result.check("localhost-host-rebinding-rejected")
    assert refused["status"] == "SUCCESS", report(result)
    assert refused["details"]["statusCode"] == 421, report(result)
    assert refused["details"]["body"]["error"] == "misdirected_request", report(result)
    assert result.check("localhost-host-valid-accepted")["status"] == "SUCCESS", report(result)


def test_the_gateway_itself_answers_the_suite_401_without_the_proxy(target: Target) -> None:
    """No unauthenticated path exists: the same discover request straight to /mcp is refused."""
    url = target.gateway.endpoint(target.gateway.settings.mcp.mcp_path)
    response = httpx2.post(
        url,
        json=modern_body("server/discover"),
        headers=modern_headers(None, "server/discover"),
        trust_env=False,
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")


def test_the_gateway_trims_whitespace_around_mcp_name_without_the_proxy(target: Target) -> None:
    """RFC 9110 §5.5 (the suite's ``sep-2243-server-accepts-whitespace-header-value``), sent
    straight to the gateway on a raw socket: no HTTP client or proxy gets to trim it first."""
    gateway = target.gateway
    body = json.dumps(
        modern_body("tools/call", {"name": "weather__echo", "arguments": {"text": "hi"}})
    ).encode()
    head = (
        f"POST {gateway.settings.mcp.mcp_path} HTTP/1.1\r\nHost: 127.0.0.1:{gateway.settings.server.port}\r\n"
        f"Authorization: Bearer {target.token}\r\nContent-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\n"
        f"MCP-Protocol-Version:  {MODERN} \r\nMcp-Method: tools/call \r\nMcp-Name:   weather__echo  \r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway.settings.server.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        answer = b"".join(iter(lambda: sock.recv(65536), b""))

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK", answer
    result = json.loads(rest.partition(b"\r\n\r\n")[2])["result"]
    assert result["content"][0]["text"].startswith("hi (for "), result
