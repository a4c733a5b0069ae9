"""Notifications an upstream sends before its answer (progress, log messages) are streamed to the
agent as they come, when the agent accepts SSE; the answer comes last, with the agent's own id.
An agent that accepts only JSON gets the answer alone.

The gateway and its upstream run in the test's process. The agent's client reads the gateway's
answer message by message, as the gateway's app sends it (``StreamingASGITransport``), so what the
agent has before the upstream is let answer is exactly what the gateway sent before the answer
existed; no socket or server adds anything to that order."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.types import Send

from tests.support.fake_upstream import FakeUpstream
from tests.support.mcp_requests import modern_body, modern_headers, wait_for_tools
from tests.support.upstream_gateway import gateway_in_front_of

pytestmark = pytest.mark.anyio


@dataclass
class ProgressUpstream(FakeUpstream):
    """Answers tools/call as SSE: a progress notification (for the agent's token), a log message,
    then the result only once the test says it has seen the notifications (``released``), so the
    answer cannot have been there when they were relayed. No clock is involved."""

    progress_tokens: list[Any] | None = None
    released: threading.Event = field(default_factory=threading.Event)
    released_by_agent: bool = False

    async def answer_call(self, body: dict[str, Any], send: Send) -> bool:
        token = (body["params"].get("_meta") or {}).get("progressToken")
        (self.progress_tokens if self.progress_tokens is not None else []).append(token)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        first = [
            {
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": token, "progress": 1, "total": 2},
            },
            {
                "jsonrpc": "2.0",
                "method": "notifications/message",
                "params": {"level": "info", "data": "halfway"},
            },
        ]
        for event in first:
            await send(
                {
                    "type": "http.response.body",
                    "body": f"data: {json.dumps(event)}\n\n".encode(),
                    "more_body": True,
                }
            )
        self.released_by_agent = await anyio.to_thread.run_sync(self.released.wait, 20)
        final = {
            "jsonrpc": "2.0",
            "id": body["id"],
            "result": {"content": [{"type": "text", "text": "done"}]},
        }
        await send({"type": "http.response.body", "body": f"data: {json.dumps(final)}\n\n".encode()})
        return True


def sse_messages(text: str) -> list[dict[str, Any]]:
    messages = []
    for event in text.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].strip() for line in event.split("\n") if line.startswith("data:"))
        if data:
            messages.append(json.loads(data))
    return messages


async def test_upstream_notifications_are_streamed_before_the_answer(tmp_path: Path) -> None:
    upstream = ProgressUpstream(tool_names=["slow_job"], progress_tokens=[])
    async with (
        gateway_in_front_of(upstream, tmp_path / "gw.sqlite3", {"id": "jobs"}) as fronted,
        fronted.client() as http,
    ):
        token = await fronted.token(http)
        mcp = fronted.mcp
        await wait_for_tools(http, mcp, token, ["jobs__slow_job"])
        params = {"name": "jobs__slow_job", "arguments": {}, "_meta": {"progressToken": "p-1"}}
        body = modern_body("tools/call", params, request_id=41)
        body["params"]["_meta"]["progressToken"] = "p-1"
        body["params"]["_meta"]["io.modelcontextprotocol/logLevel"] = "info"  # the agent asks for logs
        arrivals: list[dict[str, Any]] = []
        async with http.stream(
            "POST", mcp, json=body, headers=modern_headers(token, "tools/call", "jobs__slow_job")
        ) as streamed:
            assert streamed.status_code == 200
            assert streamed.headers["content-type"].startswith("text/event-stream")
            buffer = ""
            async for chunk in streamed.aiter_text():
                buffer += chunk
                *complete, buffer = buffer.replace("\r\n", "\n").split("\n\n")
                arrivals += sse_messages("\n\n".join(complete))
                if len(arrivals) >= 2:
                    upstream.released.set()  # both notifications reached the agent: let it answer
        methods = [m.get("method") for m in arrivals]
        assert methods == ["notifications/progress", "notifications/message", None]
        assert upstream.released_by_agent, "the notifications were held back until the answer"
        assert arrivals[0]["params"]["progressToken"] == "p-1"
        assert arrivals[-1]["id"] == 41 and arrivals[-1]["result"]["content"][0]["text"] == "done"
        assert arrivals[-1]["result"]["resultType"] == "complete"
        assert upstream.progress_tokens == ["p-1"]
        upstream.released.clear()
        upstream.released.set()  # the JSON-only agent below cannot see anything before the answer

        json_only = modern_headers(token, "tools/call", "jobs__slow_job") | {"Accept": "application/json"}
        plain = await http.post(mcp, json=body, headers=json_only)
        assert plain.headers["content-type"].startswith("application/json")
        assert plain.json()["result"]["content"][0]["text"] == "done"
