"""Tokens per second: client_credentials + private_key_jwt on one gateway worker.

    .venv/bin/python bench/token_throughput.py [--requests 20000] [--concurrency 64] [--stores sqlite,redis]

For each store the gateway runs as ``mcp-gateway serve`` (one uvicorn worker, uvloop + httptools)
in its own process; the load comes from a separate process (aiohttp, keep-alive, N connections)
with assertions signed beforehand, so the client's signing cost is not counted. The baseline,
measured in the same run on the same stack, is a bare Starlette endpoint that answers a fixed
JSON body of the same size: the ratio says how much of the HTTP stack's ceiling the token
endpoint keeps. Prints tokens/s, p50/p99 latency and the ratios against the baseline and the
3,000/s target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from multiprocessing import Pool
from pathlib import Path

import aiohttp
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from gateway.key_encryption import new_kek_text

ROOT = Path(__file__).resolve().parent.parent
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TARGET = 3000.0

BASELINE_APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
BODY = {"access_token": "x" * 560, "token_type": "Bearer", "expires_in": 300, "scope": "tools:read"}
async def token(request):
    await request.body()
    return JSONResponse(BODY, headers={"Cache-Control": "no-store"})
app = Starlette(routes=[Route("/token", token, methods=["POST"])])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


_KEY_PEM: bytes = b""


def _init_signer(pem: bytes) -> None:
    global _KEY_PEM
    _KEY_PEM = pem


def _sign(args: tuple[str, str, int]) -> str:
    client_id, audience, count = args
    key = serialization.load_pem_private_key(_KEY_PEM, password=None)
    now = int(time.time())
    return "\n".join(
        jwt.encode(
            {
                "iss": client_id,
                "sub": client_id,
                "aud": audience,
                "iat": now,
                "exp": now + 280,
                "jti": str(uuid.uuid4()),
            },
            key,  # type: ignore[arg-type]
            algorithm="ES256",
            headers={"kid": "bench"},
        )
        for _ in range(count)
    )


def sign_assertions(pem: bytes, client_id: str, audience: str, count: int) -> list[str]:
    chunks = [(client_id, audience, 1000)] * (count // 1000) + (
        [(client_id, audience, count % 1000)] if count % 1000 else []
    )
    with Pool(2, initializer=_init_signer, initargs=(pem,)) as pool:
        return [a for chunk in pool.map(_sign, chunks) for a in chunk.split("\n") if a]


async def load(url: str, bodies: list[str], concurrency: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    failures = 0
    queue = iter(bodies)
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal failures
            for body in queue:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        failures += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(bodies) / elapsed, sorted(latencies), failures


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))] * 1000


def run_server(cmd: list[str], port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(port)
    return process


def measure(url: str, bodies: list[str], concurrency: int) -> dict[str, float]:
    warm = max(1, len(bodies) // 20)
    asyncio.run(load(url, bodies[:warm], concurrency))
    rate, latencies, failures = asyncio.run(load(url, bodies[warm:], concurrency))
    return {
        "rate": rate,
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "failures": failures,
    }


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(port)
    return process, port


def main() -> None:
    parser = argparse.ArgumentParser(description="client_credentials + private_key_jwt tokens per second")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--stores", default="sqlite,redis")
    args = parser.parse_args()

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key())) | {"kid": "bench", "alg": "ES256", "use": "sig"}

    workdir = Path(tempfile.mkdtemp(prefix="mcpgw-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        port = free_port()
        processes.append(
            run_server(
                [
                    sys.executable,
                    "-c",
                    BASELINE_APP + "\nimport uvicorn\nuvicorn.run(app, host='127.0.0.1', "
                    f"port={port}, log_level='warning', access_log=False)",
                ],
                port,
                dict(os.environ),
            )
        )
        filler = [
            f"grant_type=client_credentials&client_assertion_type={JWT_BEARER}&client_assertion={'x' * 560}"
        ]
        baseline = measure(f"http://127.0.0.1:{port}/token", filler * args.requests, args.concurrency)
        processes.pop().terminate()
        print(
            f"baseline (bare Starlette endpoint, same stack): {baseline['rate']:8.0f} req/s  "
            f"p50 {baseline['p50']:.2f} ms  p99 {baseline['p99']:.2f} ms"
        )

        kek = new_kek_text()  # the key-encryption key the run's gateways seal their keys under
        for store_kind in args.stores.split(","):
            if store_kind == "redis":
                redis_process, redis_port = start_redis(workdir)
                processes.append(redis_process)
                store = f"redis://127.0.0.1:{redis_port}/0"
            else:
                store = f"sqlite:///{workdir / 'bench.sqlite3'}"
            port = free_port()
            issuer = f"http://127.0.0.1:{port}"
            config = workdir / f"{store_kind}.toml"
            config.write_text(
                f'store = "{store}"\nport = {port}\nlog_level = "warning"\n'
                f'key_encryption_key = "env:MCP_GATEWAY_BENCH_KEK"\n'
                f'[[clients]]\nclient_id = "bench-agent"\nscopes = ["tools:read"]\n'
                f"jwks = '{json.dumps({'keys': [jwk]})}'\n"
            )
            env = dict(os.environ, MCP_GATEWAY_CONFIG=str(config), MCP_GATEWAY_BENCH_KEK=kek)
            gateway = run_server([sys.executable, "-m", "gateway", "serve"], port, env)
            processes.append(gateway)
            assertions = sign_assertions(pem, "bench-agent", issuer, args.requests)
            bodies = [
                f"grant_type=client_credentials&client_assertion_type={JWT_BEARER}&client_assertion={a}"
                for a in assertions
            ]
            result = measure(f"{issuer}/token", bodies, args.concurrency)
            gateway.terminate()
            gateway.wait()
            print(
                f"{store_kind:>6}: {result['rate']:8.0f} tokens/s  p50 {result['p50']:.2f} ms  "
                f"p99 {result['p99']:.2f} ms  failures {int(result['failures'])}  "
                f"ratio to baseline {result['rate'] / baseline['rate']:.2f}  "
                f"ratio to target {result['rate'] / TARGET:.2f}"
            )
    finally:
        for process in processes:
            process.terminate()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
