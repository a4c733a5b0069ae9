"""Password guessing is limited per account and per address, and costs the gateway a bounded amount
of work (rule book SI-1, SI-2). The gateway runs in process on a frozen clock: a window passes when
the test advances it."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import httpx2
import pytest

from gateway.app import create_app
from gateway.clock import FrozenClock
from gateway.composition import build_gateway
from gateway.config import settings_from
from gateway.oauth.authorize import users as users_module
from gateway.oauth.authorize.sign_in_limits import (
    FAILURES_PER_ACCOUNT,
    FAILURES_PER_ADDRESS,
    WINDOW,
    account_digest,
)
from gateway.oauth.authorize.users import UserDirectory
from gateway.store.memory import MemoryStore
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from tests.support.authorization_code import PublicClient
from tests.support.browser import form_fields
from tests.support.inprocess import GATEWAY_URL, InProcessGateway

pytestmark = pytest.mark.anyio

DESK = PublicClient("desk", "http://127.0.0.1:9999/cb", "tools:read", "st")
PASSWORD = "correct horse battery"


@dataclass
class World:
    gateway: InProcessGateway
    clock: FrozenClock


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = FrozenClock(1_700_000_000.0)
    settings = settings_from(
        public_url=GATEWAY_URL,
        store="memory://",
        clients=(
            {
                "client_id": DESK.client_id,
                "auth_method": "none",
                "scopes": ("tools:read",),
                "grant_types": ("authorization_code",),
                "redirect_uris": (DESK.redirect_uri,),
            },
        ),
    )
    gateway = build_gateway(settings, MemoryStore(clock), clock=clock, transport=AsgiTransport({}))
    for n in range(FAILURES_PER_ADDRESS // FAILURES_PER_ACCOUNT + 2):
        await gateway.users.add(f"user{n}", PASSWORD)
    in_process = InProcessGateway(settings, gateway, create_app(gateway))
    async with lifespan(in_process.app):
        yield World(in_process, clock)


async def sign_in(world: World, username: str, password: str) -> httpx2.Response:
    """One attempt on a fresh sign-in form (a new browser each time, so no cookie helps)."""
    async with world.gateway.client() as http:
        page = await http.get(DESK.authorize_url(world.gateway))
        action, hidden, _ = form_fields(page.text)
        return await http.post(
            world.gateway.endpoint(action), data={**hidden, "username": username, "password": password}
        )


async def test_si1_after_too_many_failures_an_account_is_refused_until_the_window_ends(world: World) -> None:
    for _ in range(FAILURES_PER_ACCOUNT):
        assert (await sign_in(world, "user0", "wrong password!")).status_code == 401
    held = await sign_in(world, "user0", PASSWORD)  # even the right password waits
    assert held.status_code == 429 and "Too many failed sign-ins" in held.text
    assert (await sign_in(world, "user1", PASSWORD)).status_code == 303, "other accounts are not held"
    world.clock.advance(WINDOW)
    assert (await sign_in(world, "user0", PASSWORD)).status_code == 303


async def test_si1_after_too_many_failures_from_one_address_every_account_waits(world: World) -> None:
    accounts = FAILURES_PER_ADDRESS // FAILURES_PER_ACCOUNT
    for n in range(accounts):  # never more than the per-account limit on any one account
        for _ in range(FAILURES_PER_ACCOUNT):
            await sign_in(world, f"user{n}", "wrong password!")
    held = await sign_in(world, f"user{accounts}", PASSWORD)
    assert held.status_code == 429, held.text


async def test_si1_a_refused_sign_in_is_audited_with_an_account_digest_and_the_address(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_gateway.audit")
    await sign_in(world, "user2", "wrong password!")
    refused = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mcp_gateway.audit"]
    line = next(entry for entry in refused if entry["event"] == "sign_in")
    assert line["outcome"] == "refused" and line["reason"] == "wrong_credentials"
    assert line["account"] == account_digest("user2") and line["address"]
    assert "user2" not in json.dumps(refused)


async def test_si2_password_hashing_runs_at_most_the_bound_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    lock, active, peak = threading.Lock(), [0], [0]

    def counting_verify(password: str, stored: str) -> bool:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)  # a stand-in for scrypt's work, so attempts can overlap
        with lock:
            active[0] -= 1
        return False

    monkeypatch.setattr(users_module, "verify_password", counting_verify)
    directory = UserDirectory(MemoryStore(), max_concurrent_hashes=2)
    async with anyio.create_task_group() as group:
        for n in range(12):
            group.start_soon(directory.authenticate, f"someone{n}", "guess")
    assert peak[0] == 2
