"""``make run``: the gateway on the embedded SQLite store, an example upstream, an example agent.

Creates ``var/`` (git-ignored) with the store, the demo config and the demo agent's private key;
starts the example "weather" tool server (``examples/upstream_server.py``) on 127.0.0.1:8001;
registers it with the gateway through the config file (``var/demo.toml``, ``[[servers]]``);
registers the agent with the CLI (idempotent, scope ``weather``); prints the command that runs the
example agent; and serves the gateway on http://127.0.0.1:8000 until Ctrl-C, then stops the
upstream too.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
AGENT = "demo-agent"
AGENT_SCOPES = ("weather:get_forecast", "weather:list_alerts")
"""The demo agent's standing scopes: the read tools. It lacks ``weather:echo`` and asks for it."""
GATEWAY = "http://127.0.0.1:8000"
UPSTREAM_HOST, UPSTREAM_PORT = "127.0.0.1", 8001
UPSTREAM_URL = f"http://{UPSTREAM_HOST}:{UPSTREAM_PORT}/mcp"

READ_SCOPES = ("weather:get_forecast", "weather:list_alerts")
DEMO_USER = "demo"

DEMO_CONFIG = f"""\
# Written by examples/run_demo.py (make run); rewritten on every run.

# What an MCP host that registers itself (DCR or a Client ID Metadata Document) may hold: the
# weather server's read tools. The protected-resource metadata and the 401 challenge name every
# tool's scope, so an agent asks for all of them and gets what it holds (echo after approval).
dcr_allowed_scopes = {json.dumps(list(READ_SCOPES))}
resource_scopes = {json.dumps([*READ_SCOPES, "weather:echo"])}

# The approval policy: the read tools are granted at once, anything else of the weather server
# waits for a security-admin's approval (at most a day); a call refused for a missing scope files
# the request itself.
[approvals]
version = "demo"
step_up = true
poll_interval = 2

[[approvals.rules]]
scope = "weather:get_forecast"
decision = "auto"

[[approvals.rules]]
scope = "weather:list_alerts"
decision = "auto"

[[approvals.rules]]
scope = "weather"
decision = "approval"
max_duration = 86400

[scope_descriptions]
"weather:get_forecast" = "Read weather forecasts"
"weather:list_alerts" = "Read weather alerts"
"weather:echo" = "Echo text back (a test tool)"

[[servers]]
id = "weather"
url = "{UPSTREAM_URL}"
audience = "{UPSTREAM_URL}"

[servers.tool_scopes]
get_forecast = ["weather:get_forecast"]
list_alerts = ["weather:list_alerts"]
echo = ["weather:echo"]
"""


HOW_TO = """
In another terminal:
  the example agent (private_key_jwt, client_credentials):
    .venv/bin/python examples/agent.py --gateway {gateway} --client-id {agent} --key {key} \\
        --tool weather__get_forecast --arguments '{{"city": "Paris"}}'
  the CLI, on what this demo serves:
    export MCP_GATEWAY_CONFIG={config} MCP_GATEWAY_STORE={store}
    .venv/bin/mcp-gateway tools list     # clients list, users list, keys list …
  the approval loop: the agent lacks weather:echo, asks for it and waits for a decision:
    .venv/bin/python examples/agent.py --gateway {gateway} --client-id {agent} --key {key} \\
        --ask weather:echo --why "to echo a greeting" --tool weather__echo --arguments '{{"text": "hi"}}'
  approve it while it waits, with the CLI (in a third terminal, after the export above):
    .venv/bin/mcp-gateway approvals list
    .venv/bin/mcp-gateway approvals approve <request id> --duration 3600
  or in the console: {gateway}/admin, signed in as {user} (a security-admin)
  a real MCP host, for a person (it registers itself, you sign in and consent):
    MCP Inspector:  npx @modelcontextprotocol/inspector, then connect to {gateway}/mcp
                    (transport Streamable HTTP; its OAuth flow opens the gateway's sign-in page)
    Claude Desktop and other stdio hosts: command "npx", args ["mcp-remote", "{gateway}/mcp"]
    sign in as {user} / {password} (also at the console)
"""


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", *args], cwd=ROOT, text=True, capture_output=True, check=False
    )
    if check and result.returncode != 0:
        raise SystemExit(result.stderr.strip() or f"mcp-gateway {' '.join(args)} failed")
    return result


def provision_agent() -> Path:
    key_path = VAR / f"{AGENT}.pem"
    if not key_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
        cli("clients", "remove", AGENT, check=False)
    shown = cli("clients", "show", AGENT, "--json", check=False)
    registered = json.loads(shown.stdout) if shown.returncode == 0 else None
    if registered is not None and tuple(registered.get("scopes", ())) != AGENT_SCOPES:
        cli("clients", "remove", AGENT)  # registered by an older demo, with other scopes
        registered = None
    if registered is None:
        private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(private_key, ec.EllipticCurvePrivateKey)
        jwk = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
        jwk.update({"alg": "ES256", "use": "sig", "kid": "demo-agent-1"})
        scopes = [arg for scope in AGENT_SCOPES for arg in ("--scope", scope)]
        cli("clients", "add", AGENT, "--name", "Demo agent", *scopes, "--jwks", json.dumps({"keys": [jwk]}))
    return key_path


def provision_user() -> str:
    """A person to sign in as at /authorize and at the console: ``demo``, a security-admin, with a
    password kept in ``var/`` (owner-only)."""
    password_path = VAR / f"{DEMO_USER}.password"
    if not password_path.exists():
        password_path.write_text(secrets.token_urlsafe(12) + "\n")
        password_path.chmod(0o600)
        cli("users", "remove", DEMO_USER, check=False)
    password = password_path.read_text().strip()
    listed = cli("users", "list", "--json", check=False)
    users = json.loads(listed.stdout) if listed.returncode == 0 else []
    if not any(user.get("username") == DEMO_USER for user in users):
        subprocess.run(
            [sys.executable, "-m", "gateway", "users", "add", DEMO_USER, "--password-stdin"],
            cwd=ROOT,
            input=password + "\n",
            text=True,
            capture_output=True,
            check=True,
        )
    cli("users", "roles", DEMO_USER, "--set", "security-admin")  # decides the demo's requests
    return password


def listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def start_upstream() -> subprocess.Popen[bytes]:
    if listening(UPSTREAM_HOST, UPSTREAM_PORT):
        raise SystemExit(
            f"{UPSTREAM_HOST}:{UPSTREAM_PORT} is in use: stop what runs there (another make run?)"
        )
    upstream = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "examples" / "upstream_server.py"),
            "--issuer",
            GATEWAY,
            "--host",
            UPSTREAM_HOST,
            "--port",
            str(UPSTREAM_PORT),
            "--audience",
            UPSTREAM_URL,
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if upstream.poll() is not None:
            raise SystemExit(f"the example upstream exited with code {upstream.returncode}")
        if listening(UPSTREAM_HOST, UPSTREAM_PORT):
            return upstream
        time.sleep(0.1)
    stop(upstream)
    raise SystemExit(f"the example upstream did not listen on {UPSTREAM_HOST}:{UPSTREAM_PORT}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    VAR.mkdir(mode=0o700, exist_ok=True)
    config_path = VAR / "demo.toml"
    config_path.write_text(DEMO_CONFIG)
    os.environ["MCP_GATEWAY_CONFIG"] = str(config_path)
    os.environ.setdefault("MCP_GATEWAY_STORE", f"sqlite:///{VAR / 'mcp-gateway.sqlite3'}")
    key_path = provision_agent()
    password = provision_user()
    # Stopped by a supervisor rather than Ctrl-C: still stop both servers (the finally below).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    upstream = start_upstream()
    gateway: subprocess.Popen[bytes] | None = None
    try:
        print(f'example upstream "weather": {UPSTREAM_URL} (accepts only the gateway\'s tokens for it)')
        print(f"mcp-gateway: serving on {GATEWAY} (Ctrl-C to stop)")
        print(
            HOW_TO.format(
                gateway=GATEWAY,
                agent=AGENT,
                key=key_path.relative_to(ROOT),
                user=DEMO_USER,
                password=password,
                config=config_path.relative_to(ROOT),
                store=os.environ["MCP_GATEWAY_STORE"],
            ),
            flush=True,
        )
        gateway = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], cwd=ROOT)
        code = gateway.wait()
    except KeyboardInterrupt:
        code = 0  # the gateway got the same Ctrl-C and shuts down by itself
    finally:
        if gateway is not None:
            stop(gateway)
        stop(upstream)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
