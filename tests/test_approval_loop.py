"""The approval loop end to end (AP-1 … AP-4): the gateway under uvicorn, on SQLite and on Redis,
an agent that files a request over HTTP, and a security engineer deciding on the same store from
another process's point of view (a second wired gateway, as the CLI is). The example weather
server is the upstream, served in process at the address its registration names.

Time is a frozen clock shared by both sides, so a grant's expiry and the one-second bound on
replicas seeing a revocation pass by advancing it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from examples.agent import MemoryTokenStorage, ask_and_wait
from gateway.approvals.decisions import Principal
from gateway.clock import FrozenClock
from gateway.composition import Gateway, build_gateway
from gateway.config import settings_from
from gateway.resource.call_approval import CALL_PENDING
from gateway.settings import Settings
from gateway.store.factory import open_store
from tests.support.agents import AgentKey, assertion_form
from tests.support.gateway_server import RunningGateway
from tests.support.kek import SHARED_STORE_KEK
from tests.support.mcp_requests import modern
from tests.support.sdk_clients import private_key_jwt_provider, signed_assertions
from tests.support.weather_gateway import gateway_before_weather

pytestmark = pytest.mark.anyio

UPSTREAM = "http://127.0.0.1:9/mcp"
"""Where the weather server's registration says it is; the gateway reaches it in process."""
HOUR = 3600
ALICE = Principal("alice", ("security-admin",))
POLICY = {"step_up": True, "poll_interval": 1, "rules": [{"scope": "weather", "max_duration": 8 * HOUR}]}


@dataclass
class Loop:
    running: RunningGateway
    operator: Gateway
    """The security team's side: the same store, wired in the test's own loop."""
    clock: FrozenClock
    key: AgentKey
    agent: str

    @property
    def mcp(self) -> str:
        return self.running.settings.mcp.resource

    def assertion(self) -> dict[str, str]:
        now = int(self.clock.now())
        form = assertion_form(self.key.assertion(self.agent, self.running.issuer, iat=now, exp=now + 60))
        del form["grant_type"]
        return form

    async def token(self, http: httpx2.AsyncClient, scope: str | None = None) -> httpx2.Response:
        form = {**self.assertion(), "grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        return await http.post(self.running.endpoint("/token"), data=form)

    async def ask(self, http: httpx2.AsyncClient, scope: str, **extra: str) -> httpx2.Response:
        form = {**self.assertion(), "scope": scope, "justification": "weekly alert digest", **extra}
        return await http.post(self.running.endpoint("/access-requests"), data=form)

    async def look(self, http: httpx2.AsyncClient, url: str) -> dict[str, Any]:
        response = await http.post(url, data=self.assertion())
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


def _settings(store: str, agent: str, key: AgentKey) -> Any:
    def make(port: int) -> Settings:
        return settings_from(
            port=port,
            store=store,
            key_encryption_key=SHARED_STORE_KEK,
            approvals=POLICY,
            clients=[{"client_id": agent, "jwks": key.jwks, "scopes": ["weather:get_forecast"]}],
            servers=[{"id": "weather", "url": UPSTREAM, "call_approval": ["get_forecast"]}],
        )

    return make


@pytest.fixture
async def loop(store_url: str) -> AsyncIterator[Loop]:
    clock = FrozenClock(time.time())
    key, agent = AgentKey(), f"reporter-{uuid.uuid4().hex[:8]}"
    with gateway_before_weather(_settings(store_url, agent, key), UPSTREAM, clock) as running:
        operator = build_gateway(running.settings, open_store(store_url, clock), clock=clock)
        try:
            yield Loop(running, operator, clock, key, agent)
        finally:
            await operator.aclose()


async def test_ap1_an_approved_subset_is_what_the_token_holds_until_the_grant_ends(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    filed = await loop.ask(http, "weather:list_alerts weather:echo", duration=str(2 * HOUR))
    assert filed.status_code == 201, filed.text
    request = filed.json()
    assert request["status"] == "pending" and request["interval"] == POLICY["poll_interval"]
    assert filed.headers["location"] == request["status_url"]
    assert (await loop.token(http, "weather:list_alerts")).json()["error"] == "invalid_scope"

    await loop.operator.approvals.requests.approve(
        request["request_id"], ALICE, scopes=["weather:list_alerts"], duration=HOUR
    )
    seen = await loop.look(http, request["status_url"])
    assert seen["status"] == "approved" and seen["granted_scope"] == "weather:list_alerts"
    granted_until = seen["granted_until"]
    assert granted_until == int(loop.clock.now()) + HOUR

    answer = (await loop.token(http, "weather:list_alerts weather:echo")).json()
    assert answer["scope"] == "weather:list_alerts", "exactly the approved subset"
    loop.clock.advance(HOUR - 100)
    late = (await loop.token(http, "weather:list_alerts")).json()
    assert late["expires_in"] <= 100, "AP-1: the token ends when its grant does"
    loop.clock.advance(100)
    assert (await loop.token(http, "weather:list_alerts")).json()["error"] == "invalid_scope"
    assert (await loop.token(http)).json()["scope"] == "weather:get_forecast", "the standing scope stays"


async def test_ap2_revoking_a_grant_ends_a_live_token_at_mcp_within_the_bound(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    request = (await loop.ask(http, "weather:list_alerts")).json()
    approved = await loop.operator.approvals.requests.approve(request["request_id"], ALICE)
    token = (await loop.token(http, "weather:list_alerts weather:get_forecast")).json()["access_token"]
    standing_only = (await loop.token(http, "weather:get_forecast")).json()["access_token"]
    assert (await modern(http, loop.mcp, token, "tools/list")).status_code == 200

    await loop.operator.approvals.grants.revoke(str(approved.grant_id), ALICE, "the project ended")
    loop.clock.advance(1)  # NotBeforeMarks.MAX_STALENESS: the serving replica reads the mark
    assert (await modern(http, loop.mcp, token, "tools/list")).status_code == 401
    assert (await modern(http, loop.mcp, standing_only, "tools/list")).status_code == 200
    assert (await loop.token(http, "weather:list_alerts")).json()["error"] == "invalid_scope"


async def test_ap3_a_denial_reaches_the_agent_with_its_reason(loop: Loop, http: httpx2.AsyncClient) -> None:
    request = (await loop.ask(http, "weather:echo")).json()
    await loop.operator.approvals.requests.deny(request["request_id"], ALICE, "echo is for tests only")
    seen = await loop.look(http, request["status_url"])
    assert seen == {**seen, "status": "denied", "reason": "echo is for tests only"}
    assert "granted_scope" not in seen and "interval" not in seen


async def test_ap3_only_the_requesting_client_reads_its_request(loop: Loop, http: httpx2.AsyncClient) -> None:
    request = (await loop.ask(http, "weather:echo")).json()
    someone_else = await loop.operator.approvals.requests.get(request["request_id"])
    assert someone_else.client_id == loop.agent
    anonymous = await http.get(request["status_url"])
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    foreign_token = (await loop.token(http)).json()["access_token"]  # its own token reads it
    mine = await http.get(request["status_url"], headers={"Authorization": f"Bearer {foreign_token}"})
    assert mine.status_code == 200 and mine.json()["status"] == "pending"
    missing = await http.post(request["status_url"] + "x", data=loop.assertion())
    assert missing.status_code == 404


async def test_ap3_bad_requests_are_refused_with_the_oauth_error_and_file_nothing(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    for scope, extra, error in (
        ("weather:get_forecast", {}, "invalid_request"),  # held already
        ("weather:echo", {"duration": "1e9"}, "invalid_request"),
        ("weather:echo", {"resource": "https://else.example/"}, "invalid_target"),
        ('weather:"echo"', {}, "invalid_scope"),
    ):
        answer = await loop.ask(http, scope, **extra)
        assert (answer.status_code, answer.json().get("error")) == (400, error), answer.text
    no_reason = {**loop.assertion(), "scope": "weather:echo"}
    assert (await http.post(loop.running.endpoint("/access-requests"), data=no_reason)).status_code == 400
    assert all(r.client_id != loop.agent for r in await loop.operator.approvals.requests.list())


async def test_ap3_a_step_up_refusal_files_a_request_and_the_agent_proceeds_after_approval(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    token = (await loop.token(http)).json()["access_token"]
    arguments = {"name": "weather__list_alerts", "arguments": {"region": "north"}}
    refused = await modern(http, loop.mcp, token, "tools/call", arguments)
    assert refused.status_code == 403
    error = refused.json()["error"]
    filed = error["data"]["accessRequest"]
    assert error["data"]["requiredScopes"] == ["weather:list_alerts"] and filed["status"] == "pending"
    again = await modern(http, loop.mcp, token, "tools/call", arguments)
    assert again.json()["error"]["data"]["accessRequest"]["id"] == filed["id"], "one request, not two"

    await loop.operator.approvals.requests.approve(filed["id"], ALICE)
    assert (await loop.look(http, filed["statusUrl"]))["status"] == "approved"
    token = (await loop.token(http)).json()["access_token"]
    answered = await modern(http, loop.mcp, token, "tools/call", arguments)
    assert answered.status_code == 200 and "result" in answered.json(), answered.text


async def test_ap3_an_sdk_agent_asks_waits_and_then_lists_and_calls_the_granted_tool(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    request = (await loop.ask(http, "weather:list_alerts")).json()
    assert (await loop.look(http, request["status_url"]))["status"] == "pending"
    await loop.operator.approvals.requests.approve(request["request_id"], ALICE)
    assert (await loop.look(http, request["status_url"]))["status"] == "approved"

    provider = private_key_jwt_provider(loop.running, loop.agent, loop.key, MemoryTokenStorage())
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as sdk_http,
        Client(streamable_http_client(loop.mcp, http_client=sdk_http)) as client,
    ):
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"weather__get_forecast", "weather__list_alerts"} <= names
        result = await client.call_tool("weather__list_alerts", {"region": "north"})
        assert not result.is_error, result


async def test_ap3_the_example_agent_asks_and_waits_until_a_person_decides(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    said: list[str] = []

    async def approve_when_filed() -> None:
        while not (
            pending := [
                r for r in await loop.operator.approvals.requests.list("pending") if r.client_id == loop.agent
            ]
        ):
            await anyio.sleep(0.05)  # the session's Redis holds other tests' requests too
        await loop.operator.approvals.requests.approve(pending[0].request_id, ALICE, duration=HOUR)

    async with anyio.create_task_group() as group:
        group.start_soon(approve_when_filed)
        status = await ask_and_wait(
            http,
            loop.running.issuer,
            signed_assertions(loop.agent, loop.key),
            ["weather:echo"],
            "the demo needs to echo",
            wait=30,
            say=said.append,
        )
    assert status["status"] == "approved" and status["granted_scope"] == "weather:echo"
    assert said[0].startswith("asked for weather:echo: request req_") and said[-1].startswith("approved")


async def test_ap6_an_approved_call_passes_exactly_once_even_when_two_arrive_together(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    """Per-call approval on the store users deploy: the pass is taken atomically (SQLite, Redis)."""
    token = (await loop.token(http)).json()["access_token"]
    paris = {"name": "weather__get_forecast", "arguments": {"city": "Paris"}}
    held = (await modern(http, loop.mcp, token, "tools/call", paris)).json()["error"]
    assert held["code"] == CALL_PENDING
    await loop.operator.approvals.calls.approve(held["data"]["callApproval"]["id"], ALICE)

    answers: list[dict[str, Any]] = []

    async def call() -> None:
        answers.append((await modern(http, loop.mcp, token, "tools/call", paris)).json())

    async with anyio.create_task_group() as group:
        group.start_soon(call)
        group.start_soon(call)
    assert sorted("result" in answer for answer in answers) == [False, True], answers
    again = next(answer for answer in answers if "error" in answer)["error"]
    assert (
        again["code"] == CALL_PENDING
        and again["data"]["callApproval"]["id"] != held["data"]["callApproval"]["id"]
    )
    oslo = {"name": "weather__get_forecast", "arguments": {"city": "Oslo"}}
    assert (await modern(http, loop.mcp, token, "tools/call", oslo)).json()["error"]["code"] == CALL_PENDING
