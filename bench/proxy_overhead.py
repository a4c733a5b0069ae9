"""What the gateway hop costs: tools/call through the gateway against the same call made directly.

    .venv/bin/python bench/proxy_overhead.py [--seconds 10] [--connections 64] [--tools 5000]

The upstream is a minimal fast MCP responder (raw ASGI JSON-RPC, uvicorn with uvloop +
httptools, its own process) that also lists ``--tools`` tools. The gateway runs as
``mcp-gateway serve`` (one worker, SQLite store). The load generator is wrk (Debian package
``wrk``), with the same JSON-RPC body both ways (2026-07-28 headers). Prints: direct req/s,
gateway req/s and their ratio at 64 connections with p50/p99, the p50 added by the gateway at
one connection, and tools/list p50 over the catalogue of ``--tools`` tools.

Then the same tools/call load against a second gateway on the same upstream, with the per-call
audit events switched off (``bench/serve_without_audit.py``), and the ratio of the two rates: what
the audit trail costs on the hot path (aim: the gateway with audit keeps >= 0.90 of the rate
without it). Pass ``--no-audit-comparison`` to skip it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
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
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}

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


def start_gateway(
    processes: list[subprocess.Popen[bytes]],
    workdir: Path,
    upstream_port: int,
    command: list[str] | None = None,
) -> tuple[str, str]:
    """A gateway in front of the upstream, on a SQLite store of its own; its URL and a token."""
    workdir.mkdir()
    port = free_port()
    secret = "bench-secret-" + base64.urlsafe_b64encode(os.urandom(12)).decode()
    digest = hashlib.sha256(secret.encode()).hexdigest()
    config = workdir / "gateway.toml"
    config.write_text(
        f'store = "sqlite:///{workdir / "gw.sqlite3"}"\nport = {port}\nlog_level = "warning"\n'
        f'[[servers]]\nid = "fast"\nurl = "http://127.0.0.1:{upstream_port}/mcp"\n'
        f'[[clients]]\nclient_id = "bench"\nauth_method = "client_secret_basic"\nscopes = ["fast"]\n'
        f'secret_hash = "sha256:{digest}"\n'
    )
    env = dict(os.environ, MCP_GATEWAY_CONFIG=str(config))
    argv = command or [sys.executable, "-m", "gateway", "serve"]
    processes.append(subprocess.Popen(argv, cwd=ROOT, env=env))
    wait_for(port)
    url = f"http://127.0.0.1:{port}"
    answer = httpx.post(f"{url}/token", data={"grant_type": "client_credentials"}, auth=("bench", secret))
    token: str = answer.json()["access_token"]
    discovered(url, *tools_list(token))
    return url, token


def tools_list(token: str) -> tuple[dict[str, object], dict[str, str]]:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": META}}
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/list",
    }
    return body, headers


def discovered(gateway: str, body: dict[str, object], headers: dict[str, str]) -> None:
    """Wait until the gateway lists the upstream's tools (discovery runs in the background)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = httpx.post(f"{gateway}/mcp", json=body, headers=headers).json()
        if listed.get("result", {}).get("tools"):
            return
        time.sleep(0.5)
    raise SystemExit("the gateway did not discover the upstream's tools")


def call(name: str, token: str | None = None) -> tuple[dict[str, object], dict[str, str]]:
    """A tools/call of ``name``, with the bearer ``token`` when it goes through a gateway."""
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": name, "arguments": {}, "_meta": META},
    }
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": name,
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return body, headers


def main() -> None:
    parser = argparse.ArgumentParser(description="gateway hop overhead for tools/call")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--tools", type=int, default=5_000)  # MAX_TOOLS_PER_SERVER: one more is refused
    parser.add_argument("--no-audit-comparison", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="mcpgw-proxy-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        upstream_port = free_port()
        processes.append(
            subprocess.Popen([sys.executable, "-c", UPSTREAM, str(upstream_port), str(args.tools)])
        )
        wait_for(upstream_port)
        gateway, token = start_gateway(processes, workdir / "audited", upstream_port)
        list_body, list_headers = tools_list(token)
        direct_body, direct_headers = call("t00001")
        via_body, via_headers = call("fast__t00001", token)
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
        if not args.no_audit_comparison:
            quiet, quiet_token = start_gateway(
                processes,
                workdir / "unaudited",
                upstream_port,
                [sys.executable, "bench/serve_without_audit.py"],
            )
            quiet_body, quiet_headers = call("fast__t00001", quiet_token)
            unaudited = run_wrk(f"{quiet}/mcp", quiet_body, quiet_headers, n, s, workdir)
            audited = run_wrk(f"{gateway}/mcp", via_body, via_headers, n, s, workdir)  # again, back to back
            print(
                f"audit on vs off (c={n}): {audited['rate']:8.0f} vs {unaudited['rate']:8.0f} req/s, "
                f"ratio {audited['rate'] / unaudited['rate']:.2f}  (goal >= 0.90: the trail costs <= 10 %)"
            )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
