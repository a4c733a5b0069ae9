"""An upstream that speaks only the 2025 handshake era, with sessions, behind the gateway.

It refuses ``server/discover``, hands out an ``Mcp-Session-Id`` on ``initialize``, and answers
anything else only inside a session opened by the same principal (the token's ``sub`` and
``act``), as a strict upstream may. The gateway must probe, fall back to the handshake, and open
one upstream session per agent principal.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from tests.support.mcp_requests import (
    CLIENT_CAPABILITIES_META,
    modern,
    modern_body,
    modern_headers,
    wait_for_tools,
)
from tests.support.raw_asgi import read_body, send_response
from tests.support.tokens import claims_of
from tests.support.upstream_gateway import gateway_in_front_of

pytestmark = pytest.mark.anyio


def _principal(authorization: str) -> str:
    claims = claims_of(authorization.removeprefix("Bearer "))
    return f"{claims['sub']}|{(claims.get('act') or {}).get('sub', '')}"


@dataclass
class HandshakeOnlyUpstream:
    sessions: dict[str, str] = field(default_factory=dict)
    """session id -> the principal that opened it."""
    initialized_with: list[dict[str, Any]] = field(default_factory=list)
    """The params of every ``initialize``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = json.loads(await read_body(receive))
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        principal = _principal(headers.get("authorization", ""))
        method, request_id = body.get("method"), body.get("id")
        extra: list[tuple[bytes, bytes]] = []
        if method == "server/discover":
            status, answer = 400, {"error": {"code": -32601, "message": "unknown method"}}
        elif method == "initialize":
            self.initialized_with.append(body["params"])
            session_id = secrets.token_hex(16)
            self.sessions[session_id] = principal
            extra.append((b"mcp-session-id", session_id.encode()))
            status, answer = (
                200,
                {
                    "result": {
                        "protocolVersion": "2025-11-25",
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "legacy", "version": "1"},
                    }
                },
            )
        elif self.sessions.get(headers.get("mcp-session-id", "")) != principal:
            status, answer = 404, {"error": {"code": -32600, "message": "no such session"}}
        elif request_id is None:
            status, answer = 202, {}
        elif method == "tools/list":
            status, answer = (
                200,
                {"result": {"tools": [{"name": "whoami", "inputSchema": {"type": "object"}}]}},
            )
        else:
            text = f"session of {self.sessions[headers['mcp-session-id']]}"
            status, answer = 200, {"result": {"content": [{"type": "text", "text": text}]}}
        payload = json.dumps({"jsonrpc": "2.0", "id": request_id, **answer}).encode() if answer else b""
        await send_response(send, status, "application/json", payload, extra)


async def test_a_handshake_era_upstream_gets_one_session_per_agent_principal(tmp_path: Path) -> None:
    upstream = HandshakeOnlyUpstream()
    agents = ("agent-a", "agent-b")
    async with (
        gateway_in_front_of(upstream, tmp_path / "gw.sqlite3", {"id": "legacy"}, agents) as fronted,
        fronted.client() as http,
    ):
        mcp = fronted.mcp
        answers: dict[str, Any] = {}
        for name in agents:
            token = await fronted.token(http, name)
            await wait_for_tools(http, mcp, token, ["legacy__whoami"])
            for _ in range(2):  # the second call reuses the agent's upstream session
                response = await modern(
                    http, mcp, token, "tools/call", {"name": "legacy__whoami", "arguments": {}}
                )
                assert response.status_code == 200, response.text
                answers[name] = response.json()["result"]["content"][0]["text"]
    assert answers == {"agent-a": "session of agent-a|agent-a", "agent-b": "session of agent-b|agent-b"}
    principals = sorted(upstream.sessions.values())
    assert principals == ["agent-a|agent-a", "agent-b|agent-b", "mcp-gateway|"]


async def test_up5_a_handshake_era_upstream_is_told_the_client_can_be_asked_nothing(tmp_path: Path) -> None:
    """The gateway relays no server-to-client requests in the 2025 era, so its ``initialize``
    declares no capability, even for a server allowed every kind of input and an agent declaring
    every one (one upstream session per principal then serves every agent honestly)."""
    upstream = HandshakeOnlyUpstream()
    server = {"id": "legacy", "input_requests": ["elicitation", "elicitation.url", "sampling", "roots"]}
    everything = {"elicitation": {"form": {}, "url": {}}, "sampling": {}, "roots": {}}
    async with (
        gateway_in_front_of(upstream, tmp_path / "gw.sqlite3", server) as fronted,
        fronted.client() as http,
    ):
        token = await fronted.token(http)
        await wait_for_tools(http, fronted.mcp, token, ["legacy__whoami"])
        body = modern_body("tools/call", {"name": "legacy__whoami", "arguments": {}})
        body["params"]["_meta"][CLIENT_CAPABILITIES_META] = everything
        headers = modern_headers(token, "tools/call", "legacy__whoami")
        answered = await http.post(fronted.mcp, json=body, headers=headers)
        assert answered.status_code == 200 and "result" in answered.json(), answered.text
    assert len(upstream.initialized_with) == 2, "the prober's session, then the agent's"
    assert all(params["capabilities"] == {} for params in upstream.initialized_with)
