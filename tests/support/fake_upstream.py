"""A fake upstream MCP server in raw ASGI, for the failures and shapes no real server shows on demand.

:class:`FakeUpstream` speaks the 2026-07-28 era statelessly; each test chooses its tool count, its
page size and its failure mode, and reads what it received. A subclass answers ``tools/call`` its
own way by overriding :meth:`FakeUpstream.answer_call` (an SSE stream, a notification first).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.types import Receive, Scope, Send

from tests.support.mcp_requests import MODERN_VERSION
from tests.support.raw_asgi import read_body, send_response

GARBAGE_ANSWERS: dict[str, tuple[int, str, bytes]] = {
    "not-json": (200, "text/html", b"<html><body>It works!</body></html>"),
    "not-json-rpc": (200, "application/json", b'{"hello": "world", "tools": []}'),
    "http-500": (
        500,
        "application/json",
        b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": "x"}}',
    ),
}


@dataclass
class FakeUpstream:
    """A 2026-07-28 MCP server in raw ASGI: ``server/discover``, paged ``tools/list``, ``tools/call``.

    ``answers`` is ``"ok"``, ``"slow"`` (wait for the client to give up, never answer) or a key of
    :data:`GARBAGE_ANSWERS`; ``calls_only`` limits a failure mode to ``tools/call`` (discovery
    then succeeds). Every request is recorded as ``(Authorization header, body)``.
    """

    tool_names: list[str] = field(default_factory=lambda: ["ping_tool"])
    page_size: int = 100
    answers: str = "ok"
    calls_only: bool = False
    slow_for: float = 30.0
    seen: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = json.loads(await read_body(receive))
        headers = dict(scope["headers"])
        self.seen.append((headers.get(b"authorization", b"").decode(), body))
        if "id" not in body:
            await send_response(send, 202, "application/json", b"")
            return
        if body["method"] == "tools/call" and await self.answer_call(body, send):
            return
        failing = self.answers != "ok" and (not self.calls_only or body["method"] == "tools/call")
        if failing and self.answers == "slow":
            with anyio.move_on_after(self.slow_for):
                while (await receive())["type"] != "http.disconnect":
                    pass
            return
        if failing:
            await send_response(send, *GARBAGE_ANSWERS[self.answers])
            return
        result = self._result(body["method"], body.get("params") or {})
        await send_response(
            send, 200, "application/json", json.dumps({"jsonrpc": "2.0", "id": body["id"], **result}).encode()
        )

    async def answer_call(self, body: dict[str, Any], send: Send) -> bool:
        """A subclass's own answer to a ``tools/call`` (True when it sent one)."""
        return False

    def _result(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if method == "server/discover":
            return {
                "result": {
                    "supportedVersions": [MODERN_VERSION],
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "fake", "version": "1"},
                }
            }
        if method == "tools/list":
            start = int(params.get("cursor") or 0)
            chunk = self.tool_names[start : start + self.page_size]
            result: dict[str, Any] = {
                "tools": [
                    {"name": name, "description": f"tool {name}", "inputSchema": {"type": "object"}}
                    for name in chunk
                ]
            }
            if start + self.page_size < len(self.tool_names):
                result["nextCursor"] = str(start + self.page_size)
            return {"result": result}
        if method == "tools/call":
            text = f"{params.get('name')} answered"
            return {"result": {"content": [{"type": "text", "text": text}], "isError": False}}
        return {"error": {"code": -32601, "message": f"method {method} not found"}}


@dataclass
class ChangingUpstream(FakeUpstream):
    """Lists ``definitions`` as they are at each ``tools/list``."""

    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _result(self, method: str, params: Any) -> dict[str, Any]:
        if method == "tools/list":
            return {"result": {"tools": [{"name": n, **d} for n, d in self.definitions.items()]}}
        return super()._result(method, params)


def tool(description: str, **properties: Any) -> dict[str, Any]:
    """One definition for :class:`ChangingUpstream`: a description and the schema's properties."""
    return {"description": description, "inputSchema": {"type": "object", "properties": properties}}
