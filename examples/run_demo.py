"""``make run``: the gateway on the embedded SQLite store, with an example agent provisioned.

Creates ``var/`` (git-ignored) with the store and the demo agent's private key, registers the agent
with the CLI (idempotent), prints the command that runs the example agent, and serves on
http://127.0.0.1:8000 until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
AGENT = "demo-agent"


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], cwd=ROOT, text=True, capture_output=True, check=check
    )


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
    if cli("clients", "show", AGENT, check=False).returncode != 0:
        private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(private_key, ec.EllipticCurvePrivateKey)
        jwk = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
        jwk.update({"alg": "ES256", "use": "sig", "kid": "demo-agent-1"})
        cli(
            "clients",
            "add",
            AGENT,
            "--name",
            "Demo agent",
            "--scope",
            "tools:read",
            "--scope",
            "tools:call",
            "--jwks",
            json.dumps({"keys": [jwk]}),
        )
    return key_path


def main() -> None:
    VAR.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("MCP_GATEWAY_STORE", f"sqlite:///{VAR / 'mcp-gateway.sqlite3'}")
    key_path = provision_agent()
    print("mcp-gateway: serving on http://127.0.0.1:8000 (Ctrl-C to stop)")
    print("In another terminal, run the example agent:")
    print(f"  .venv/bin/python examples/get_token.py --client-id {AGENT} --key {key_path.relative_to(ROOT)}")
    os.execv(sys.executable, [sys.executable, "-m", "gateway", "serve"])


if __name__ == "__main__":
    main()
