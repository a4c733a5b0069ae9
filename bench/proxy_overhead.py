"""What the gateway hop costs: tools/call through the gateway against the same call made directly.

    .venv/bin/python bench/proxy_overhead.py [--seconds 10] [--connections 64] [--tools 5000]

The upstream is a minimal fast MCP responder (raw ASGI JSON-RPC, uvicorn with uvloop +
httptools, its own process) that also lists ``--tools`` tools. The gateway runs as
``mcp-gateway serve`` (one worker, SQLite store). The load generator is wrk (Debian package
``wrk``), with the same JSON-RPC body both ways (2026-07-28 headers). Prints: direct req/s,
gateway req/s and their ratio at 64 connections with p50/p99, the p50 added by the gateway at
one connection, and tools/list p50 over the catalogue of ``--tools`` tools.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from token_throughput import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
MODERN = "2026-07-28"

UPSTREAM = r"""
import json, sys
N = int(sys.argv[2])
TOOLS = [{"name": f"t{i:05d}", "description": "a tool", "inputSchema": {"type": "object"}} for i in range(N)]
CALL = b'{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"ok"}],"isError":false,"resultType":"complete"}}'
async def app(scope, receive, send):
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
    if method == "tools/call":
        payload = CALL % json.dumps(rid).encode()
    elif method == "tools/list":
        cursor = int((request.get("params") or {}).get("cursor") or 0)
        page = {"tools": TOOLS[cursor:cursor + 1000], "resultType": "complete"}
        if cursor + 1000 < N:
            page["nextCursor"] = str(cursor + 1000)
        payload = json.dumps({"jsonrpc": "2.0", "id": rid, "result": page}).encode()
    elif method == "server/discover":
        payload = json.dumps({"jsonrpc": "2.0", "id": rid, "result": {"supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {}}, "resultType": "complete"}}).encode()
    else:
        payload = json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "nope"}}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
import uvicorn
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
            loop="uvloop", http="httptools")
"""

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
{headers}
"""


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def run_wrk(
    url: str, body: dict[str, object], headers: dict[str, str], connections: int, seconds: int, workdir: Path
) -> dict[str, float]:
    script = workdir / "request.lua"
    header_lines = "\n".join(f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in headers.items())
    script.write_text(WRK_SCRIPT.format(body=lua_string(json.dumps(body)), headers=header_lines))
    threads = 1 if connections < 2 else 2
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        print(f"warning: {errors.group(1)} non-2xx answers from {url}", file=sys.stderr)
    return {
        "rate": rate,
        "p50": _latency(output, "50%"),
        "p99": _latency(output, "99%"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def _latency(output: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", output)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def main() -> None:
    parser = argparse.ArgumentParser(description="gateway hop overhead for tools/call")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--tools", type=int, default=5_000)  # MAX_TOOLS_PER_SERVER: one more is refused
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="mcpgw-proxy-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        upstream_port, gateway_port = free_port(), free_port()
        processes.append(
            subprocess.Popen([sys.executable, "-c", UPSTREAM, str(upstream_port), str(args.tools)])
        )
        wait_for(upstream_port)
        secret = "bench-secret-" + base64.urlsafe_b64encode(os.urandom(12)).decode()
        digest = __import__("hashlib").sha256(secret.encode()).hexdigest()
        config = workdir / "gateway.toml"
        config.write_text(
            f'store = "sqlite:///{workdir / "gw.sqlite3"}"\nport = {gateway_port}\nlog_level = "warning"\n'
            f'[[servers]]\nid = "fast"\nurl = "http://127.0.0.1:{upstream_port}/mcp"\n'
            f'[[clients]]\nclient_id = "bench"\nauth_method = "client_secret_basic"\nscopes = ["fast"]\n'
            f'secret_hash = "sha256:{digest}"\n'
        )
        env = dict(os.environ, MCP_GATEWAY_CONFIG=str(config))
        processes.append(subprocess.Popen([sys.executable, "-m", "gateway", "serve"], cwd=ROOT, env=env))
        wait_for(gateway_port)
        gateway = f"http://127.0.0.1:{gateway_port}"
        token = httpx.post(
            f"{gateway}/token", data={"grant_type": "client_credentials"}, auth=("bench", secret)
        ).json()["access_token"]
        meta = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        list_body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}
        list_headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": "tools/list",
        }
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = httpx.post(f"{gateway}/mcp", json=list_body, headers=list_headers).json()
            if listed.get("result", {}).get("tools"):
                break
            time.sleep(0.5)
        else:
            raise SystemExit("the gateway did not discover the upstream's tools")

        def call(name: str) -> tuple[dict[str, object], dict[str, str]]:
            body = {
                "jsonrpc": "2.0",
                "id": 7,
                "method": "tools/call",
                "params": {"name": name, "arguments": {}, "_meta": meta},
            }
            headers = {
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": MODERN,
                "Mcp-Method": "tools/call",
                "Mcp-Name": name,
            }
            return body, headers

        direct_body, direct_headers = call("t00001")
        via_body, via_headers = call("fast__t00001")
        via_headers["Authorization"] = f"Bearer {token}"
        probe = httpx.post(f"{gateway}/mcp", json=via_body, headers=via_headers)
        assert probe.status_code == 200 and "result" in probe.json(), probe.text

        n, s = args.connections, args.seconds
        direct = run_wrk(f"http://127.0.0.1:{upstream_port}/mcp", direct_body, direct_headers, n, s, workdir)
        via = run_wrk(f"{gateway}/mcp", via_body, via_headers, n, s, workdir)
        direct_1 = run_wrk(
            f"http://127.0.0.1:{upstream_port}/mcp", direct_body, direct_headers, 1, s // 2 or 1, workdir
        )
        via_1 = run_wrk(f"{gateway}/mcp", via_body, via_headers, 1, s // 2 or 1, workdir)
        listing = run_wrk(f"{gateway}/mcp", list_body, list_headers, 1, s // 2 or 1, workdir)

        print(
            f"direct  (c={n}): {direct['rate']:8.0f} req/s  p50 {direct['p50']:.2f} ms  p99 {direct['p99']:.2f} ms"
        )
        print(
            f"gateway (c={n}): {via['rate']:8.0f} req/s  p50 {via['p50']:.2f} ms  p99 {via['p99']:.2f} ms"
            f"  non-2xx {int(via['errors'])}"
        )
        print(f"ratio gateway/direct: {via['rate'] / direct['rate']:.2f}  (goal >= 0.45)")
        print(
            f"added p50 at one connection: {via_1['p50'] - direct_1['p50']:.3f} ms  (goal <= 0.3 ms; "
            f"direct {direct_1['p50']:.3f} ms, gateway {via_1['p50']:.3f} ms)"
        )
        print(
            f"tools/list over {args.tools} tools, first page of 100, one connection: p50 {listing['p50']:.2f} ms"
            f"  p99 {listing['p99']:.2f} ms  (goal p50 <= 10 ms)"
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
