"""Raw MCP requests for both protocol eras, and what the tests read from the answers.

* 2026-07-28 (stateless): :func:`modern_headers`, :func:`modern_body`, :func:`modern`;
* 2025-11-25 (the handshake, with sessions): :func:`initialize`, :func:`in_session`;
* :func:`wait_for_tools` polls ``tools/list``, since the gateway discovers upstreams in the
  background; :func:`challenge_params` reads a ``Bearer`` challenge.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import anyio
import httpx2

HANDSHAKE_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
ACCEPT = "application/json, text/event-stream"
DISCOVERY_WAIT = 30.0


def modern_headers(token: str | None, method: str, name: str | None = None) -> dict[str, str]:
    headers = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": MODERN_VERSION}
    headers["Mcp-Method"] = method
    if name is not None:
        headers["Mcp-Name"] = name
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def modern_body(method: str, params: Mapping[str, Any] | None = None, request_id: int = 1) -> dict[str, Any]:
    meta = {PROTOCOL_VERSION_META: MODERN_VERSION, CLIENT_CAPABILITIES_META: {}}
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**(params or {}), "_meta": meta}}


async def modern(
    http: httpx2.AsyncClient, mcp_url: str, token: str, method: str, params: Mapping[str, Any] | None = None
) -> httpx2.Response:
    """One 2026-07-28 request, with every header the revision asks for."""
    name = params.get("name") if params and method == "tools/call" else None
    return await http.post(
        mcp_url, json=modern_body(method, params), headers=modern_headers(token, method, name)
    )


def handshake_headers(token: str | None, session_id: str | None = None) -> dict[str, str]:
    headers = {
        "Accept": ACCEPT,
        "Content-Type": "application/json",
        "MCP-Protocol-Version": HANDSHAKE_VERSION,
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if session_id is not None:
        headers["Mcp-Session-Id"] = session_id
    return headers


async def initialize(http: httpx2.AsyncClient, mcp_url: str, token: str) -> str:
    """The 2025 handshake: ``initialize`` then ``notifications/initialized``; the session id."""
    body = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": HANDSHAKE_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        },
    }
    response = await http.post(mcp_url, json=body, headers=handshake_headers(token))
    assert response.status_code == 200, response.text
    assert response.json()["result"]["protocolVersion"] == HANDSHAKE_VERSION
    session_id = response.headers["mcp-session-id"]
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    acknowledged = await http.post(mcp_url, json=initialized, headers=handshake_headers(token, session_id))
    assert acknowledged.status_code == 202, acknowledged.text
    return session_id


async def in_session(
    http: httpx2.AsyncClient,
    mcp_url: str,
    token: str,
    session_id: str | None,
    method: str,
    params: Mapping[str, Any] | None = None,
    request_id: int = 1,
) -> httpx2.Response:
    """One handshake-era request in a session."""
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": dict(params or {})}
    return await http.post(mcp_url, json=body, headers=handshake_headers(token, session_id))


async def list_all_tools(http: httpx2.AsyncClient, mcp_url: str, token: str) -> list[list[dict[str, Any]]]:
    """Every page of ``tools/list`` (2026-07-28), following ``nextCursor``."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    for _ in range(100):
        response = await modern(http, mcp_url, token, "tools/list", {"cursor": cursor} if cursor else {})
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        pages.append(result["tools"])
        cursor = result.get("nextCursor")
        if cursor is None:
            return pages
    raise AssertionError("tools/list paginated forever")


def tool_names(pages: Iterable[list[dict[str, Any]]]) -> list[str]:
    return [tool["name"] for page in pages for tool in page]


async def wait_for_tools(
    http: httpx2.AsyncClient,
    mcp_url: str,
    token: str,
    expected: Iterable[str],
    within: float = DISCOVERY_WAIT,
) -> list[str]:
    """Poll ``tools/list`` until every ``expected`` tool is listed (discovery runs in the background)."""
    wanted = set(expected)
    deadline = time.monotonic() + within
    while True:
        names = tool_names(await list_all_tools(http, mcp_url, token))
        if wanted <= set(names):
            return names
        if time.monotonic() > deadline:
            raise AssertionError(f"tools {sorted(wanted - set(names))} never appeared; listed: {names[:20]}")
        await anyio.sleep(0.1)


def challenge_params(header: str) -> dict[str, str]:
    """The auth-params of a ``Bearer`` challenge (quoted values without escapes, as the gateway sends)."""
    assert header.startswith("Bearer "), header
    params: dict[str, str] = {}
    rest = header[len("Bearer ") :]
    while rest:
        name, _, rest = rest.partition("=")
        assert rest.startswith('"'), header
        value, _, rest = rest[1:].partition('"')
        assert name.strip() not in params, f"{name} twice in {header}"
        params[name.strip()] = value
        rest = rest.removeprefix(",").strip()
    return params
