"""What pinning (TP-4) and screening (TS-9) cost on the hot path: tools/list and tools/call
through the gateway whose catalogue holds N pinned tools, against the same gateway built without
pins (``Discovery(..., pins=None)``), in the same run.

    .venv/bin/python bench/tool_pinning.py [--tools 1000] [--calls 2000] [--rounds 3]

Both gateways run in process (ASGI, ``httpx.ASGITransport``, a memory store) in front of one
in-process upstream that lists ``--tools`` tools and answers every call at once, so what is
measured is the gateway's own work. The decision is taken at discovery (held tools are left out
of the catalogue's index), so both should serve at the same rate: the ratio is expected at ~1.00.
Also printed: what one discovery of the N tools costs with pins and screening, and without.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from gateway.app import create_app
from gateway.composition import Gateway, build_gateway
from gateway.config import settings_from
from gateway.store.memory import MemoryStore
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from gateway.upstream.discovery import Discovery
from gateway.upstream.refresher import Refresher
from gateway.upstream.tool_sources import McpToolSource

URL = "https://gateway.bench"
ORIGIN = "https://fast.bench"
MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}


def upstream(count: int) -> Callable[..., Awaitable[None]]:
    """An MCP upstream listing ``count`` tools and answering every call with one text block."""
    tools = [
        {
            "name": f"t{i:05d}",
            "description": f"Tool {i}: forecast for a city, by day.",
            "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
        for i in range(count)
    ]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body) if body else {}
        method, rid = request.get("method"), request.get("id")
        if method == "tools/list":
            cursor = int((request.get("params") or {}).get("cursor") or 0)
            page: dict[str, Any] = {"tools": tools[cursor : cursor + 1000]}
            if cursor + 1000 < count:
                page["nextCursor"] = str(cursor + 1000)
            result: dict[str, Any] = page
        elif method == "tools/call":
            result = {"content": [{"type": "text", "text": "ok"}], "isError": False}
        else:
            result = {"supportedVersions": [MODERN], "capabilities": {"tools": {}}}
        payload = json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return app


def gateway(count: int, pinned: bool) -> Gateway:
    settings = settings_from(
        public_url=URL,
        store="memory://",
        servers=({"id": "fast", "url": f"{ORIGIN}/mcp", "refresh_interval": 3600},),
    )
    built = build_gateway(settings, MemoryStore(), transport=AsgiTransport({ORIGIN: upstream(count)}))
    if pinned:
        return built
    unpinned = Discovery(
        {"mcp": McpToolSource(built.upstream, built.issuer)},
        built.catalog,
        built.targets,
        clock=built.clock,
        audit=built.audit,
        pins=None,
    )
    refresher = Refresher(
        unpinned, built.servers, built.store, built.upstream.list_changed, clock=built.clock
    )
    return dataclasses.replace(built, discovery=unpinned, refresher=refresher)


def request(method: str, token: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params | {"_meta": META}}
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
    }
    if method == "tools/call":
        headers["Mcp-Name"] = params["name"]
    return body, headers


async def measure(gw: Gateway, tools: int, calls: int) -> dict[str, float]:
    """µs per tools/list (first page) and per tools/call, and seconds for one discovery."""
    app = create_app(gw)
    async with lifespan(app):
        start = time.perf_counter()
        await gw.refresher.refresh_now("fast")
        discovery = time.perf_counter() - start
        assert len(gw.catalog) == tools, f"{len(gw.catalog)} of {tools} tools served"
        token = await gw.issuer.issue(
            subject="bench",
            client_id="bench",
            audience=gw.settings.mcp.resource,
            scopes=("fast",),
            lifetime=3600,
        )
        figures = {"discovery_s": discovery}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as http:
            for method, params in (
                ("tools/list", {}),
                ("tools/call", {"name": "fast__t00001", "arguments": {}}),
            ):
                body, headers = request(method, token.token, params)
                answer = await http.post("/mcp", json=body, headers=headers)
                assert answer.status_code == 200 and "result" in answer.text, answer.text[:300]
                start = time.perf_counter()
                for _ in range(calls):
                    await http.post("/mcp", json=body, headers=headers)
                figures[method] = (time.perf_counter() - start) / calls * 1e6
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tools", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for _ in range(args.rounds):  # alternated, best of each: warm-up and noise hit both alike
        for pins in (False, True):
            runs[pins].append(await measure(gateway(args.tools, pinned=pins), args.tools, args.calls))
    without, pinned = (
        {key: min(run[key] for run in runs[pins]) for key in runs[pins][0]} for pins in (False, True)
    )
    print(f"{args.tools} tools, {args.calls} requests each, best of {args.rounds}, in process (ASGI)")
    for method in ("tools/list", "tools/call"):
        ratio = pinned[method] / without[method]
        print(
            f"{method:<11} pinned {pinned[method]:8.0f} µs/request ({1e6 / pinned[method]:6.0f} req/s)   "
            f"without pins {without[method]:8.0f} µs/request ({1e6 / without[method]:6.0f} req/s)   "
            f"pinned/without {ratio:.2f}"
        )
    print(
        f"discovery   pinned + screened {pinned['discovery_s']:.2f} s   without pins "
        f"{without['discovery_s']:.2f} s (screening runs in both: it is the catalogue's reading)"
    )


if __name__ == "__main__":
    asyncio.run(main())
