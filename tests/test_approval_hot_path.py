"""The approval loop costs the MCP path nothing it did not pay before (AP-2): a call with a token
already verified reads the ``jti`` deny-list (RV-1) and nothing else from the store, even when the
token rests on approved grants; the grant and not-before checks are answered from memory."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from gateway.app import create_app
from gateway.approvals.decisions import Principal
from gateway.clock import FrozenClock
from gateway.composition import build_gateway
from gateway.config import settings_from
from gateway.errors import InvalidScope
from gateway.oauth.clients.model import Client
from gateway.store import Store
from gateway.store.memory import MemoryStore
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from tests.support.gateway_tokens import mint
from tests.support.inprocess import InProcessGateway
from tests.support.mcp_requests import modern

pytestmark = pytest.mark.anyio


class CountingStore:
    """The memory store, with a log of every operation asked of it."""

    def __init__(self, inner: MemoryStore) -> None:
        self._inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(f"{name} {args[0] if args else ''}")
            return await method(*args, **kwargs)

        return counted


@pytest.fixture
async def world() -> AsyncIterator[tuple[InProcessGateway, CountingStore]]:
    clock = FrozenClock(time.time())
    store = CountingStore(MemoryStore(clock))
    settings = settings_from(
        store="memory://",
        clients=[
            {
                "client_id": "agent",
                "auth_method": "none",
                "grant_types": ["authorization_code"],
                "redirect_uris": ["http://127.0.0.1:9/cb"],
            }
        ],
    )
    gateway = build_gateway(settings, store_as(store), clock=clock, transport=AsgiTransport({}))
    running = InProcessGateway(settings, gateway, create_app(gateway))
    async with lifespan(running.app):
        yield running, store


def store_as(store: CountingStore) -> Store:
    counted: Store = store  # type: ignore[assignment]  # a proxy: every Store method, counted
    return counted


async def test_ap2_a_cached_call_reads_only_the_deny_list_whatever_grants_the_token_carries(
    world: tuple[InProcessGateway, CountingStore],
) -> None:
    running, store = world
    approvals = running.gateway.approvals
    request = await approvals.requests.file(
        client_id="agent", scopes=("tickets",), origin="agent", justification="x"
    )
    approved = await approvals.requests.approve(request.request_id, Principal("alice", ("security-admin",)))
    token = await mint(running.gateway, client_id="agent", scope="tickets", grants=[approved.grant_id])
    async with httpx2.AsyncClient(transport=running.transport()) as http:
        assert (await modern(http, running.settings.mcp.resource, token, "tools/list")).status_code == 200
        store.calls.clear()
        assert (await modern(http, running.settings.mcp.resource, token, "tools/list")).status_code == 200
        assert [call.split(" ")[0] for call in store.calls] == ["get"] and "revoked:" in store.calls[0]

        await approvals.grants.revoke(str(approved.grant_id), Principal("bob", ("security-admin",)), "done")
        assert (await modern(http, running.settings.mcp.resource, token, "tools/list")).status_code == 401


async def test_ap2_a_token_exchanged_from_a_granted_token_carries_the_grant_and_ends_with_it(
    world: tuple[InProcessGateway, CountingStore],
) -> None:
    running, _ = world
    wired = running.gateway
    request = await wired.approvals.requests.file(
        client_id="agent", scopes=("tickets",), origin="agent", justification="x"
    )
    approved = await wired.approvals.requests.approve(
        request.request_id, Principal("alice", ("security-admin",))
    )
    token = await mint(wired, client_id="agent", scope="tickets", grants=[approved.grant_id])
    subject = await wired.verifier.verify(token)
    wired.targets.register("https://tools.example/tickets", ("tickets",), owner="tickets")
    exchanged = await wired.exchanger.exchange(
        subject=subject, requester="agent", audiences=("https://tools.example/tickets",)
    )
    downstream = await wired.introspection_verifier.verify(exchanged.token)
    assert downstream.grants == (approved.grant_id,)
    assert await wired.marks.allows_token(downstream) and await wired.marks.allows_token(subject)

    await wired.approvals.grants.revoke(str(approved.grant_id), Principal("bob", ("security-admin",)), "done")
    assert not await wired.marks.allows_token(downstream), "inactive at introspection and upstream"
    assert not await wired.marks.allows_token(subject)


async def test_rv2_a_client_removed_and_added_again_starts_without_its_old_grants(
    world: tuple[InProcessGateway, CountingStore],
) -> None:
    running, _ = world
    wired = running.gateway
    client = Client(
        "temp-agent", "none", grant_types=("authorization_code",), redirect_uris=("http://127.0.0.1:9/cb",)
    )
    await wired.clients.add(client)
    request = await wired.approvals.requests.file(
        client_id="temp-agent", scopes=("tickets",), origin="agent", justification="x"
    )
    await wired.approvals.requests.approve(request.request_id, Principal("alice", ("security-admin",)))
    mcp = running.settings.mcp.resource
    assert (await wired.approvals.entitlements.entitle("temp-agent", (), ("tickets",), mcp)).scopes == (
        "tickets",
    )

    assert await wired.clients.remove("temp-agent")  # moves the client's not-before mark
    assert isinstance(wired.clock, FrozenClock)
    wired.clock.advance(1)  # the client comes back later
    await wired.clients.add(client)
    with pytest.raises(InvalidScope):
        await wired.approvals.entitlements.entitle("temp-agent", (), ("tickets",), mcp)
