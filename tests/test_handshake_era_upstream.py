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

from tests.support.mcp_requests import modern, wait_for_tools
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = json.loads(await read_body(receive))
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        principal = _principal(headers.get("authorization", ""))
        method, request_id = body.get("method"), body.get("id")
        extra: list[tuple[bytes, bytes]] = []
        if method == "server/discover":
            status, answer = 400, {"error": {"code": -32601, "message": "unknown method"}}
        elif method == "initialize":
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
