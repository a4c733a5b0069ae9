"""Removing a person or a client revokes everything it held (rule book RV-2): live access tokens
stop working at ``/mcp``, at introspection and at token exchange, refresh tokens and codes are
refused, sign-in sessions and remembered consent are forgotten, and a principal added again under
the same name starts clean. The gateway runs in process on a frozen clock (no socket)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest

from gateway.app import create_app
from gateway.approvals.decisions import Principal
from gateway.clock import FrozenClock
from gateway.composition import Gateway, build_gateway
from gateway.oauth.clients.model import Client
from gateway.store.memory import MemoryStore
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from tests.support.agents import AgentKey, agent_token, assertion_form
from tests.support.authorization_code import new_verifier
from tests.support.browser import Person
from tests.support.code_flow import DESK_CLIENT, introspect, redeem, refresh, settings_for, tokens_for
from tests.support.inprocess import InProcessGateway
from tests.support.mcp_requests import modern

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


@dataclass
class World:
    gateway: InProcessGateway
    clock: FrozenClock

    @property
    def wired(self) -> Gateway:
        return self.gateway.gateway

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=self.gateway.transport(), base_url=self.gateway.settings.server.base_url, timeout=30
        )


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = FrozenClock(time.time())
    settings = settings_for("memory://")(8000)
    gateway = build_gateway(settings, MemoryStore(clock), clock=clock, transport=AsgiTransport({}))
    in_process = InProcessGateway(settings, gateway, create_app(gateway))
    async with lifespan(in_process.app):
        yield World(in_process, clock)


async def mcp_status(http: httpx2.AsyncClient, world: World, token: str) -> int:
    return (await modern(http, world.gateway.settings.mcp.resource, token, "tools/list")).status_code


async def add_robot(world: World) -> AgentKey:
    """The client ``robot`` (tools:read, client credentials with its own key pair); its key."""
    key = AgentKey()
    robot = Client(
        client_id="robot",
        auth_method="private_key_jwt",
        scopes=("tools:read",),
        grant_types=("client_credentials",),
        jwks=key.jwks,
    )
    await world.wired.clients.add(robot)
    return key


async def test_rv2_removing_a_person_ends_their_tokens_sessions_and_consent(world: World) -> None:
    await world.wired.users.add("carol", PASSWORD)
    async with world.client() as http, world.client() as browser:
        person = Person("carol", PASSWORD, http=browser)
        tokens = await tokens_for(world.gateway, http, person)
        unredeemed = await person.authorize(DESK_CLIENT.authorize_url(world.gateway, new_verifier()))
        assert await mcp_status(http, world, tokens["access_token"]) == 200
        assert (await introspect(http, tokens["access_token"]))["active"] is True

        assert await world.wired.users.remove("carol")
        world.clock.advance(1)  # a new instant: carol comes back below, after the removal

        assert await mcp_status(http, world, tokens["access_token"]) == 401
        assert await introspect(http, tokens["access_token"]) == {"active": False}
        assert (await refresh(http, tokens["refresh_token"])).json()["error"] == "invalid_grant"
        assert unredeemed.code is not None
        assert (await redeem(http, unredeemed.code, None)).json()["error"] == "invalid_grant"

        await world.wired.users.add("carol", PASSWORD)  # the same name again: nothing of before holds
        person.pages.clear()
        again = await person.authorize(DESK_CLIENT.authorize_url(world.gateway))
        assert again.code is not None
        seen = " ".join(page.text for page in person.pages)
        assert 'name="password"' in seen, "the old sign-in session was forgotten"
        assert 'value="allow"' in seen, "the old consent was forgotten"


async def test_rv2_removing_a_client_ends_its_live_tokens_at_mcp(world: World) -> None:
    key = await add_robot(world)
    async with world.client() as http:
        token = await agent_token(http, world.gateway, key, "robot")
        assert await mcp_status(http, world, token) == 200
        assert await world.wired.clients.remove("robot")
        refused = await modern(http, world.gateway.settings.mcp.resource, token, "tools/list")
        assert refused.status_code == 401 and "removed" in refused.headers["www-authenticate"]


async def test_rv2_a_token_whose_subject_was_removed_cannot_be_exchanged(world: World) -> None:
    key = AgentKey()
    robot = Client(
        client_id="robot",
        auth_method="private_key_jwt",
        scopes=("tools:read",),
        grant_types=("client_credentials", EXCHANGE),
        jwks=key.jwks,
    )
    await world.wired.clients.add(robot)
    async with world.client() as http:
        token = await agent_token(http, world.gateway, key, "robot")
        await world.wired.marks.revoke_subject("robot")  # the token's subject is gone (the client stays)
        form = assertion_form(
            key.assertion("robot", world.gateway.issuer),
            grant_type=EXCHANGE,
            subject_token=token,
            subject_token_type=ACCESS_TOKEN,
            audience=world.gateway.settings.mcp.resource,
        )
        response = await http.post("/token", data=form)
        assert response.status_code == 400, response.text
        assert "removed" in response.json()["error_description"]


async def test_rv2_revoking_a_clients_tokens_ends_what_it_holds_and_keeps_the_client_and_its_grants(
    world: World,
) -> None:
    """The console's "revoke every token now" is not a removal: the tokens issued before it end,
    the client may ask again at once, and what a security team approved for it stays approved."""
    key = await add_robot(world)
    approvals = world.wired.approvals
    filed = await approvals.requests.file(
        client_id="robot", scopes=("reports:read",), origin="agent", justification="weekly report"
    )
    await approvals.requests.approve(filed.request_id, Principal("alice", ("security-admin",)))
    held = await approvals.grants.held("robot")
    assert "reports:read" in held
    async with world.client() as http:
        token = await agent_token(http, world.gateway, key, "robot")
        assert await mcp_status(http, world, token) == 200

        await world.wired.marks.revoke_client_tokens("robot")
        world.clock.advance(1)

        assert await mcp_status(http, world, token) == 401
        assert await approvals.grants.held("robot") == held, "its grants stay"
        again = await agent_token(http, world.gateway, key, "robot")
        assert await mcp_status(http, world, again) == 200
