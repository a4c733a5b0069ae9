"""An upstream that announces ``notifications/tools/list_changed`` is re-discovered at once.

The upstream answers a ``tools/call`` as an SSE stream that carries the notification before the
response, and starts listing one more tool. Its refresh interval is an hour, so only the
notification can make the new tool appear in the gateway's ``tools/list``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.types import Send

from tests.support.fake_upstream import FakeUpstream
from tests.support.mcp_requests import modern_body, modern_headers, wait_for_tools
from tests.support.upstream_gateway import gateway_in_front_of

pytestmark = pytest.mark.anyio


@dataclass
class AnnouncingUpstream(FakeUpstream):
    """Adds ``new_tool`` on its first ``tools/call`` and says so on the SSE answer."""

    announced: bool = False

    async def answer_call(self, body: dict[str, Any], send: Send) -> bool:
        if self.announced:
            return False
        self.announced = True
        self.tool_names.append("new_tool")
        events = [
            {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"},
            {"jsonrpc": "2.0", "id": body["id"], "result": {"content": [{"type": "text", "text": "ok"}]}},
        ]
        payload = "".join(f"event: message\ndata: {json.dumps(e)}\n\n" for e in events).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        return True


async def modern_json_only(
    http: httpx2.AsyncClient, mcp: str, token: str, method: str, params: dict[str, Any]
) -> httpx2.Response:
    """A 2026-07-28 call from an agent that accepts only JSON (so the answer is not streamed)."""
    headers = modern_headers(token, method, params.get("name")) | {"Accept": "application/json"}
    return await http.post(mcp, json=modern_body(method, params), headers=headers)


async def test_an_upstream_announcing_list_changed_is_rediscovered_at_once(tmp_path: Path) -> None:
    upstream = AnnouncingUpstream(tool_names=["first_tool"])
    # The new tool would wait for approval under the default pinning (first-use, TP-3); that the
    # notification brings a re-discovery is the point here, so this server's tools are trusted.
    server = {"id": "live", "refresh_interval": 3600, "pinning": "trusted"}
    async with (
        gateway_in_front_of(upstream, tmp_path / "gw.sqlite3", server) as fronted,
        fronted.client() as http,
    ):
        token = await fronted.token(http)
        mcp = fronted.mcp
        assert "live__new_tool" not in await wait_for_tools(http, mcp, token, ["live__first_tool"])
        answer = await modern_json_only(
            http,
            mcp,
            token,
            "tools/call",
            {"name": "live__first_tool", "arguments": {}},
        )
        assert answer.json()["result"]["content"][0]["text"] == "ok"
        await wait_for_tools(http, mcp, token, ["live__first_tool", "live__new_tool"], within=10)
