"""Token exchanges per second: the HTTP grant, and the cached internal path used for tool calls.

    .venv/bin/python bench/exchange_throughput.py [--requests 20000] [--concurrency 64]
        [--subjects 200] [--stores sqlite,redis] [--calls 100000] [--agents 1000]

1. HTTP grant (RFC 8693). For each store the gateway runs as ``mcp-gateway serve`` (one uvicorn
   worker) in its own process. One client may exchange and authenticates with
   ``client_secret_basic`` (no per-request signing on either side). ``--subjects`` agent tokens are
   fetched first; the load (aiohttp, keep-alive, ``--concurrency`` connections, separate process
   from the server) then exchanges them round-robin for a downstream audience with a narrower
   scope. A second, smaller run exchanges one single subject token over and over: every exchange
   appends to that token's lineage record (for the revocation cascade), which is the worst case.
2. Internal path, in process, on the same store: ``DownstreamTokens.token_for`` over a workload
   of ``--agents`` agent tokens x 5 tools with Zipf-like repeats (a few agents and tools are hot),
   then the same calls straight to ``TokenExchanger.exchange`` (uncached) as the baseline.

Helpers (ports, Redis, the server process, percentiles) come from ``bench/token_throughput.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from token_throughput import free_port, percentile, run_server, start_redis

from gateway.claims import Claims
from gateway.clock import SystemClock
from gateway.composition import build_gateway
from gateway.config import settings_from
from gateway.key_encryption import new_kek_text
from gateway.oauth.clients.model import hash_secret
from gateway.store.factory import open_store
from gateway.upstream.downstream_tokens import DownstreamTokens

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
CLIENT_ID = "bench-exchanger"
SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
DOWNSTREAM = "https://tools.example/weather"
TOOLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("https://weather.example/mcp", ("weather:get_forecast",)),
    ("https://weather.example/mcp", ("weather:get_alerts",)),
    ("https://files.example/mcp", ("files:read",)),
    ("https://files.example/mcp", ("files:read", "files:write")),
    ("https://search.example/mcp", ("search:query",)),
)
AGENT_SCOPES = tuple(dict.fromkeys(scope for _, scopes in TOOLS for scope in scopes))
FORM = {"content-type": "application/x-www-form-urlencoded"}
BASIC = {"authorization": "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()}


# -- 1. the HTTP grant ------------------------------------------------------------------------


BENCH_KEK = "env:MCP_GATEWAY_BENCH_KEK"
"""The key-encryption key every gateway of the run (Redis ones included) seals its keys under."""


def gateway_config(store: str, port: int) -> str:
    mcp = f"http://127.0.0.1:{port}/mcp"
    return (
        f'store = "{store}"\nport = {port}\nlog_level = "warning"\nkey_encryption_key = "{BENCH_KEK}"\n'
        f'[[targets]]\naudience = "{DOWNSTREAM}"\nscopes = ["tools:read", "tools:call"]\n'
        f'[[clients]]\nclient_id = "{CLIENT_ID}"\nauth_method = "client_secret_basic"\n'
        f'secret_hash = "{hash_secret(SECRET)}"\nscopes = ["tools:read", "tools:call"]\n'
        f'audiences = ["{mcp}", "{DOWNSTREAM}"]\n'
        f'grant_types = ["client_credentials", "{GRANT}"]\n'
    )


async def post_all(url: str, bodies: list[str], concurrency: int) -> tuple[float, list[float], int]:
    """Like ``token_throughput.load``, with the client's Basic credentials on every request."""
    latencies: list[float] = []
    failures = 0
    queue = iter(bodies)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal failures
            for body in queue:
                started = time.perf_counter()
                async with session.post(url, data=body, headers={**FORM, **BASIC}) as response:
                    await response.read()
                    failures += response.status != 200
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(bodies) / elapsed, sorted(latencies), failures


async def subject_tokens(token_url: str, count: int) -> list[str]:
    async with aiohttp.ClientSession() as session:

        async def one() -> str:
            body = "grant_type=client_credentials&scope=tools:read+tools:call"
            async with session.post(token_url, data=body, headers={**FORM, **BASIC}) as response:
                assert response.status == 200, await response.text()
                return str((await response.json())["access_token"])

        return list(await asyncio.gather(*(one() for _ in range(count))))


def exchange_body(subject_token: str) -> str:
    return urlencode(
        {
            "grant_type": GRANT,
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN,
            "audience": DOWNSTREAM,
            "scope": "tools:read",
        }
    )


def measure(url: str, bodies: list[str], concurrency: int) -> dict[str, float]:
    warm = max(1, len(bodies) // 20)
    asyncio.run(post_all(url, bodies[:warm], concurrency))
    rate, latencies, failures = asyncio.run(post_all(url, bodies[warm:], concurrency))
    return {
        "rate": rate,
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "failures": failures,
    }


def http_grant(store: str, label: str, workdir: Path, args: argparse.Namespace) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    config = workdir / f"{label}.toml"
    config.write_text(gateway_config(store, port))
    env = dict(os.environ, MCP_GATEWAY_CONFIG=str(config))
    server = run_server([sys.executable, "-m", "gateway", "serve"], port, env)
    try:
        subjects = asyncio.run(subject_tokens(f"{issuer}/token", args.subjects))
        spread = [exchange_body(subjects[i % len(subjects)]) for i in range(args.requests)]
        result = measure(f"{issuer}/token", spread, args.concurrency)
        print(
            f"{label:>6} HTTP grant, {args.subjects} subject tokens: {result['rate']:8.0f} exchanges/s  "
            f"p50 {result['p50']:.2f} ms  p99 {result['p99']:.2f} ms  failures {int(result['failures'])}"
        )
        single = [exchange_body(subjects[0])] * max(args.requests // 4, 100)
        result = measure(f"{issuer}/token", single, args.concurrency)
        print(
            f"{label:>6} HTTP grant, one subject token:  {result['rate']:8.0f} exchanges/s  "
            f"p50 {result['p50']:.2f} ms  p99 {result['p99']:.2f} ms  failures {int(result['failures'])}  "
            f"({len(single)} requests)"
        )
    finally:
        server.terminate()
        server.wait()


# -- 2. the internal path ---------------------------------------------------------------------


def zipf_indices(rng: random.Random, n: int, count: int, s: float = 1.1) -> list[int]:
    weights = [1 / (rank + 1) ** s for rank in range(n)]
    order = list(range(n))
    rng.shuffle(order)  # hot agents are spread over the ids
    return [order[i] for i in rng.choices(range(n), weights=weights, k=count)]


async def internal_path(store_url: str, label: str, args: argparse.Namespace) -> None:
    settings = settings_from(
        store=store_url,
        key_encryption_key=BENCH_KEK,
        targets=tuple(
            {
                "audience": audience,
                "scopes": tuple(s for aud, scopes in TOOLS if aud == audience for s in scopes),
            }
            for audience in dict.fromkeys(aud for aud, _ in TOOLS)
        ),
    )
    gateway = build_gateway(settings, open_store(store_url), clock=SystemClock())
    try:
        await gateway.keys.ensure_keys()
        agents: list[Claims] = []
        for i in range(args.agents):
            issued = await gateway.issuer.issue(
                subject=f"user-{i}",
                client_id=f"agent-{i % 50}",
                audience=settings.mcp.resource,
                scopes=AGENT_SCOPES,
                lifetime=3600,
            )
            agents.append(Claims.from_jwt(issued.claims))
        rng = random.Random(7)
        workload = list(
            zip(
                zipf_indices(rng, len(agents), args.calls),
                zipf_indices(rng, len(TOOLS), args.calls, s=1.0),
                strict=True,
            )
        )

        cache = DownstreamTokens(gateway.exchanger, gateway.clock)
        started = time.perf_counter()
        for agent, tool in workload:
            audience, scopes = TOOLS[tool]
            await cache.token_for(agents[agent], audience, scopes)
        cached_rate = len(workload) / (time.perf_counter() - started)

        baseline = workload[: max(len(workload) // 10, 1000)]
        started = time.perf_counter()
        for agent, tool in baseline:
            audience, scopes = TOOLS[tool]
            subject = agents[agent]
            await gateway.exchanger.exchange(
                subject=subject,
                requester=subject.client_id,
                audiences=(audience,),
                requested_scopes=scopes,
                actor=subject.client_id,
            )
        uncached_rate = len(baseline) / (time.perf_counter() - started)
        distinct = len(set(workload))
        print(
            f"{label:>6} internal DownstreamTokens.token_for: {cached_rate:9.0f} calls/s  "
            f"hit ratio {cache.hit_ratio:.3f} ({cache.hits} hits, {cache.misses} misses, "
            f"{distinct} distinct agent-tool pairs over {len(workload)} calls)"
        )
        print(
            f"{label:>6} internal TokenExchanger.exchange (uncached): {uncached_rate:9.0f} calls/s  "
            f"cached/uncached {cached_rate / uncached_rate:.1f}x"
        )
    finally:
        await gateway.store.close()


def main() -> None:
    os.environ.setdefault("MCP_GATEWAY_BENCH_KEK", new_kek_text())  # BENCH_KEK, inherited by servers
    parser = argparse.ArgumentParser(description="token exchanges per second: HTTP grant and internal path")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--subjects", type=int, default=200)
    parser.add_argument("--stores", default="sqlite,redis")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=1000)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="mcpgw-exchange-bench-"))
    redis = None
    try:
        for kind in args.stores.split(","):
            if kind == "redis":
                if shutil.which("redis-server") is None:
                    print("redis: skipped (no redis-server on PATH)")
                    continue
                redis, redis_port = start_redis(workdir)
                http_store, internal_store = (
                    f"redis://127.0.0.1:{redis_port}/0",
                    f"redis://127.0.0.1:{redis_port}/1",
                )
            else:
                http_store = f"sqlite:///{workdir / 'http.sqlite3'}"
                internal_store = f"sqlite:///{workdir / 'internal.sqlite3'}"
            http_grant(http_store, kind, workdir, args)
            asyncio.run(internal_path(internal_store, kind, args))
            if redis is not None:
                redis.terminate()
                redis.wait()
                redis = None
    finally:
        if redis is not None:
            redis.terminate()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
