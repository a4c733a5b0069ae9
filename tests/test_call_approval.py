"""Per-call approval at the MCP endpoint (rule book AP-6): a call that needs approval is held, and
once approved the same call passes exactly once.

One in-process gateway in front of two upstreams built with the ``mcp`` SDK's ``MCPServer``
(:mod:`tests.support.guarded_upstream`), the same server registered twice: ``files`` holds the
calls of ``delete_file`` (its registration names it) and, by policy (``destructive_calls``), of
``wipe`` (annotated ``destructiveHint``); ``vault`` holds every call (``*``). Agents are raw
JSON-RPC (both eras) and the SDK's own ``Client`` (2026-07-28). Whether a call got through is read
from what the upstream did, not from the gateway. Approvers use the desk, the admin API's routes
(:func:`gateway.admin.calls_api.call_routes`, listed by the admin API's router) or nothing else.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import (
    ElicitRequestFormParams,
    ElicitRequestParams,
    ElicitRequestURLParams,
    ElicitResult,
    TextContent,
)
from starlette.types import ASGIApp

from gateway import paths
from gateway.approvals.call_desk import CallDesk
from gateway.approvals.decisions import Principal
from gateway.config import settings_from
from gateway.resource.call_approval import APPROVAL_INPUT, CALL_DENIED, CALL_PENDING
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from tests.support.agents import AgentKey, agent_token
from tests.support.guarded_upstream import GuardedUpstream, guarded_app
from tests.support.http_clients import http_client
from tests.support.inprocess import GATEWAY_URL, InProcessGateway, in_process_gateway
from tests.support.mcp_requests import (
    CLIENT_CAPABILITIES_META,
    handshake_headers,
    in_session,
    modern_body,
    modern_headers,
    wait_for_tools,
)
from tests.support.problems import problem_of

pytestmark = pytest.mark.anyio

AGENT, OPS, AUDITOR, DOUBLE = "agent", "sec-ops", "auditor", "double-agent"
"""The agent; a security admin's client; an auditor's; an agent that also holds the admin role."""
SERVERS = {
    "files": {"call_approval": ["delete_file"], "input_requests": ["elicitation"]},
    "vault": {"call_approval": ["*"], "input_requests": ["elicitation"]},
}
URL_ELICITATION: dict[str, Any] = {"elicitation": {"url": {}}}
SECURITY_ADMIN = Principal("sec-ops", ("security-admin",))


def origin(server_id: str) -> str:
    return f"https://{server_id}.test"


@dataclass
class World:
    gateway: InProcessGateway
    upstreams: dict[str, GuardedUpstream]
    keys: dict[str, AgentKey]
    admin_app: ASGIApp
    hooks: str
    """The webhook endpoint subscribed to ``call.pending``."""
    token: str = ""

    @property
    def mcp(self) -> str:
        return self.gateway.settings.mcp.resource

    @property
    def desk(self) -> CallDesk:
        return self.gateway.gateway.approvals.calls

    def done(self, server_id: str, path: str) -> list[tuple[str, str]]:
        """What the upstream did with ``path``."""
        return [entry for entry in self.upstreams[server_id].done if entry[1] == path]


@pytest.fixture(scope="module")
async def world() -> AsyncIterator[World]:
    keys = {client_id: AgentKey() for client_id in (AGENT, OPS, AUDITOR, DOUBLE)}
    admin_api = f"{GATEWAY_URL}{paths.ADMIN_API}"
    scopes = {AGENT: ("files", "vault"), OPS: ("admin:security-admin",), AUDITOR: ("admin:auditor",)}
    audiences = {OPS: (admin_api,), AUDITOR: (admin_api,), DOUBLE: (f"{GATEWAY_URL}/mcp", admin_api)}
    settings = settings_from(
        public_url=GATEWAY_URL,
        store="memory://",
        servers=tuple({"id": s, "url": f"{origin(s)}/mcp", **extra} for s, extra in SERVERS.items()),
        approvals={"destructive_calls": "approval"},
        clients=tuple(
            {
                "client_id": client_id,
                "scopes": scopes.get(client_id, ("files", "admin:security-admin")),
                "jwks": key.jwks,
                **({"audiences": audiences[client_id]} if client_id in audiences else {}),
            }
            for client_id, key in keys.items()
        ),
    )
    transport = AsgiTransport({})
    gateway = in_process_gateway(settings, transport)
    upstreams = {s: GuardedUpstream(s) for s in SERVERS}
    apps = {s: guarded_app(u, gateway.issuer, origin(s), gateway.transport()) for s, u in upstreams.items()}
    for server_id, app in apps.items():
        transport.mount(origin(server_id), app)
    async with contextlib.AsyncExitStack() as running:
        running_apps: list[ASGIApp] = [*apps.values(), gateway.app]
        for app in running_apps:
            await running.enter_async_context(lifespan(app))
        hooks, _secret = await gateway.gateway.webhooks.endpoints.add(
            "https://soc.test/hooks", ["call.pending"]
        )
        world = World(gateway, upstreams, keys, gateway.app, hooks.id)
        async with gateway.client() as http:
            world.token = await agent_token(http, gateway, keys[AGENT], AGENT)
            tools = [
                f"{s}__{t}" for s in SERVERS for t in ("delete_file", "wipe", "read_file", "ask_then_delete")
            ]
            await wait_for_tools(http, world.mcp, world.token, tools)
        yield world


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx2.AsyncClient]:
    async with world.gateway.client() as client:
        yield client


@pytest.fixture
async def admin_http(world: World) -> AsyncIterator[httpx2.AsyncClient]:
    """A client of the gateway with the held-calls routes mounted."""
    async with http_client(transport=httpx2.ASGITransport(world.admin_app)) as client:
        yield client


async def call(
    http: httpx2.AsyncClient,
    world: World,
    tool: str,
    arguments: dict[str, Any],
    capabilities: dict[str, Any] | None = None,
    token: str | None = None,
) -> httpx2.Response:
    """One raw 2026-07-28 ``tools/call`` declaring ``capabilities`` (nothing by default)."""
    body = modern_body("tools/call", {"name": tool, "arguments": arguments})
    body["params"]["_meta"][CLIENT_CAPABILITIES_META] = capabilities or {}
    headers = modern_headers(token or world.token, "tools/call", tool) | {"Accept": "application/json"}
    return await http.post(world.mcp, json=body, headers=headers)


def held(response: httpx2.Response, code: int = CALL_PENDING) -> dict[str, Any]:
    """The held call a refusal names (``data.callApproval``), after checking the refusal's shape."""
    assert response.status_code == 200, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    approval: dict[str, Any] = error["data"]["callApproval"]
    return approval


def completed(response: httpx2.Response) -> str:
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["resultType"] == "complete" and not result.get("isError"), result
    text: str = result["content"][0]["text"]
    return text


async def token_for(http: httpx2.AsyncClient, world: World, client_id: str, **extra: str) -> str:
    return await agent_token(http, world.gateway, world.keys[client_id], client_id, **extra)


async def admin_token(
    http: httpx2.AsyncClient, world: World, client_id: str, scope: str | None = None
) -> str:
    resource = world.gateway.gateway.admin_resource
    return await token_for(http, world, client_id, resource=resource, **({"scope": scope} if scope else {}))


# -- held, then passed once --------------------------------------------------------------------------


async def test_ap6_a_call_that_needs_approval_is_held_and_the_agent_is_told_where_to_look(
    world: World, http: httpx2.AsyncClient
) -> None:
    response = await call(http, world, "files__delete_file", {"path": "/srv/held.txt"})
    approval = held(response)
    call_id = approval["id"]
    assert approval == {
        "id": call_id,
        "tool": "files__delete_file",
        "status": "pending",
        "statusUrl": f"{GATEWAY_URL}{paths.CALL_APPROVALS}/{call_id}",
        "approveUrl": f"{GATEWAY_URL}/admin/calls/{call_id}",
        "expiresAt": approval["expiresAt"],
    }
    assert approval["expiresAt"].endswith("Z")
    assert world.done("files", "/srv/held.txt") == [], "nothing reached the upstream"
    record = await world.desk.get(call_id)
    assert (record.client_id, record.subject, record.held_because) == (AGENT, AGENT, "registration")
    assert json.loads(record.arguments) == {"path": "/srv/held.txt"}

    looked = await http.get(approval["statusUrl"], headers={"Authorization": f"Bearer {world.token}"})
    assert looked.status_code == 200 and looked.json() == approval
    assert looked.headers["cache-control"] == "no-store"
    other = await token_for(http, world, DOUBLE, scope="files", resource=world.mcp)
    stranger = await http.get(approval["statusUrl"], headers={"Authorization": f"Bearer {other}"})
    assert stranger.status_code == 404, "only the agent that made the call reads it"
    assert (await http.get(approval["statusUrl"])).status_code == 401


async def test_ap6_once_approved_the_same_call_passes_exactly_once(
    world: World, http: httpx2.AsyncClient
) -> None:
    arguments = {"path": "/srv/once.txt"}
    first = held(await call(http, world, "files__delete_file", arguments))
    await world.desk.approve(first["id"], SECURITY_ADMIN)
    assert completed(await call(http, world, "files__delete_file", arguments)) == "deleted /srv/once.txt"
    assert world.done("files", "/srv/once.txt") == [("delete_file", "/srv/once.txt")]
    again = held(await call(http, world, "files__delete_file", arguments))
    assert again["id"] != first["id"] and again["status"] == "pending"
    assert (await world.desk.get(first["id"])).status == "used"
    assert world.done("files", "/srv/once.txt") == [("delete_file", "/srv/once.txt")]


async def test_ap6_a_call_with_changed_arguments_needs_its_own_approval(
    world: World, http: httpx2.AsyncClient
) -> None:
    approved = held(await call(http, world, "files__delete_file", {"path": "/srv/a.txt"}))
    await world.desk.approve(approved["id"], SECURITY_ADMIN)
    changed = held(await call(http, world, "files__delete_file", {"path": "/srv/b.txt"}))
    assert changed["id"] != approved["id"]
    widened = held(await call(http, world, "files__delete_file", {"path": "/srv/a.txt", "recursive": True}))
    assert widened["id"] not in (approved["id"], changed["id"])
    assert world.done("files", "/srv/b.txt") == [] and world.done("files", "/srv/a.txt") == []


async def test_ap6_of_two_identical_calls_made_at_once_after_one_approval_exactly_one_passes(
    world: World, http: httpx2.AsyncClient
) -> None:
    arguments = {"path": "/srv/race.txt"}
    await world.desk.approve(
        held(await call(http, world, "files__delete_file", arguments))["id"], SECURITY_ADMIN
    )
    answers: list[httpx2.Response] = []

    async def make_the_call() -> None:
        answers.append(await call(http, world, "files__delete_file", arguments))

    async with anyio.create_task_group() as group:
        for _ in range(2):
            group.start_soon(make_the_call)
    passed = [a for a in answers if "result" in a.json()]
    refused = [a for a in answers if "error" in a.json()]
    assert (len(passed), len(refused)) == (1, 1), [a.text for a in answers]
    assert held(refused[0])["status"] == "pending"
    assert world.done("files", "/srv/race.txt") == [("delete_file", "/srv/race.txt")]


async def test_ap6_a_denied_call_is_refused_with_the_reason(world: World, http: httpx2.AsyncClient) -> None:
    arguments = {"path": "/srv/payroll.xlsx"}
    pending = held(await call(http, world, "files__delete_file", arguments))
    await world.desk.deny(pending["id"], SECURITY_ADMIN, "payroll is kept for ten years")
    response = await call(http, world, "files__delete_file", arguments)
    denied = held(response, CALL_DENIED)
    assert (denied["id"], denied["status"], denied["reason"]) == (
        pending["id"],
        "denied",
        "payroll is kept for ten years",
    )
    assert "payroll is kept for ten years" in response.json()["error"]["message"]
    assert world.done("files", "/srv/payroll.xlsx") == []


async def test_ap6_in_the_handshake_era_a_held_call_is_a_json_rpc_error_with_http_200(
    world: World, http: httpx2.AsyncClient
) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "a", "version": "1"},
        },
    }
    opened = await http.post(world.mcp, json=initialize, headers=handshake_headers(world.token))
    session = opened.headers["mcp-session-id"]
    params = {"name": "files__delete_file", "arguments": {"path": "/srv/old-era.txt"}}
    first = await in_session(http, world.mcp, world.token, session, "tools/call", params)
    approval = held(first)
    await world.desk.approve(approval["id"], SECURITY_ADMIN)
    second = await in_session(http, world.mcp, world.token, session, "tools/call", params)
    assert second.json()["result"]["content"][0]["text"] == "deleted /srv/old-era.txt"


# -- which tools -------------------------------------------------------------------------------------


async def test_ap6_a_tool_its_upstream_calls_destructive_waits_for_approval_when_policy_says_so(
    world: World, http: httpx2.AsyncClient
) -> None:
    wiped = held(await call(http, world, "files__wipe", {"volume": "/srv/scratch"}))
    assert (await world.desk.get(wiped["id"])).held_because == "destructive"
    assert world.done("files", "/srv/scratch") == []
    read = await call(http, world, "files__read_file", {"path": "/srv/notes.txt"})
    assert completed(read) == "contents of /srv/notes.txt", "read-only outweighs destructiveHint"


async def test_ap6_every_tool_of_a_server_registered_with_a_star_waits_for_approval(
    world: World, http: httpx2.AsyncClient
) -> None:
    approval = held(await call(http, world, "vault__read_file", {"path": "/vault/key"}))
    assert (await world.desk.get(approval["id"])).held_because == "registration"
    assert world.done("vault", "/vault/key") == []


async def test_ap6_a_held_call_is_announced_as_call_pending_without_its_arguments(
    world: World, http: httpx2.AsyncClient
) -> None:
    approval = held(await call(http, world, "files__delete_file", {"path": "/srv/announced.txt"}))
    deliveries = await world.gateway.gateway.webhooks.deliveries.for_endpoint(world.hooks)
    bodies = [json.loads(d.body) for d in deliveries if d.event == "call.pending"]
    [announced] = [b["data"] for b in bodies if b["data"]["call_id"] == approval["id"]]
    assert announced["tool"] == "files__delete_file" and announced["approve_url"] == approval["approveUrl"]
    assert "arguments" not in announced and "/srv/announced.txt" not in json.dumps(bodies)


# -- the SDK agent -----------------------------------------------------------------------------------


@dataclass
class Person:
    """The SDK client's elicitation callback: a person who opens the approval page, where the
    approver (the admin API, with a security admin's token) approves, and who then says done; and
    who confirms every form."""

    admin_http: httpx2.AsyncClient
    ops_token: str
    asked: list[ElicitRequestParams]

    async def elicit(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params)
        if isinstance(params, ElicitRequestFormParams):
            return ElicitResult(action="accept", content={"sure": True})
        call_id = params.url.rsplit("/", 1)[1]
        approved = await self.admin_http.post(
            f"{GATEWAY_URL}{paths.ADMIN_CALLS}/{call_id}/approve",
            json={"note": "checked with the owner"},
            headers={"Authorization": f"Bearer {self.ops_token}"},
        )
        assert approved.status_code == 200, approved.text
        return ElicitResult(action="accept")


@pytest.fixture
async def agent_http(world: World) -> AsyncIterator[httpx2.AsyncClient]:
    async with world.gateway.client() as client:
        client.headers["Authorization"] = f"Bearer {world.token}"
        yield client


async def test_ap6_an_sdk_agent_declaring_url_elicitation_is_sent_to_the_approval_page_and_its_retry_passes(
    world: World, agent_http: httpx2.AsyncClient, admin_http: httpx2.AsyncClient
) -> None:
    person = Person(admin_http, await admin_token(admin_http, world, OPS), [])
    sdk = Client(
        streamable_http_client(world.mcp, http_client=agent_http),
        mode="2026-07-28",
        elicitation_callback=person.elicit,
    )
    async with sdk as client:
        result = await client.call_tool("files__delete_file", {"path": "/srv/sdk.txt"})
    assert not result.is_error and result.content == [TextContent(type="text", text="deleted /srv/sdk.txt")]
    [page] = person.asked
    assert isinstance(page, ElicitRequestURLParams) and page.mode == "url"
    assert page.url.startswith(f"{GATEWAY_URL}/admin/calls/call_") and "files__delete_file" in page.message
    assert world.done("files", "/srv/sdk.txt") == [("delete_file", "/srv/sdk.txt")]


async def test_ap6_an_approved_call_keeps_its_approval_through_the_upstreams_own_questions(
    world: World, agent_http: httpx2.AsyncClient, admin_http: httpx2.AsyncClient
) -> None:
    """The gateway's answer to its own URL elicitation is not forwarded (the upstream would take it
    for its confirmation), and the upstream's question, asked of the approved call, is answered
    by a retry that passes once with the state the upstream sent."""
    person = Person(admin_http, await admin_token(admin_http, world, OPS), [])
    sdk = Client(
        streamable_http_client(world.mcp, http_client=agent_http),
        mode="2026-07-28",
        elicitation_callback=person.elicit,
    )
    async with sdk as client:
        result = await client.call_tool("vault__ask_then_delete", {"path": "/vault/old"})
    assert result.content == [TextContent(type="text", text="deleted /vault/old after asking")]
    assert [type(asked) for asked in person.asked] == [ElicitRequestURLParams, ElicitRequestFormParams]
    assert world.done("vault", "/vault/old") == [("ask_then_delete", "/vault/old")]


async def test_ap6_an_sdk_agent_without_url_elicitation_is_told_by_a_json_rpc_error(
    world: World, agent_http: httpx2.AsyncClient
) -> None:
    async with Client(streamable_http_client(world.mcp, http_client=agent_http), mode="2026-07-28") as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("files__delete_file", {"path": "/srv/plain-sdk.txt"})
    assert refused.value.error.code == CALL_PENDING
    data = refused.value.error.data
    assert isinstance(data, dict) and data["callApproval"]["status"] == "pending"


async def test_ap6_a_retry_that_still_finds_the_call_pending_is_told_by_the_error_not_asked_again(
    world: World, http: httpx2.AsyncClient
) -> None:
    first = await call(http, world, "files__delete_file", {"path": "/srv/wait.txt"}, URL_ELICITATION)
    result = first.json()["result"]
    assert result["resultType"] == "input_required" and "requestState" not in result
    [(key, request)] = result["inputRequests"].items()
    assert key == APPROVAL_INPUT and request["method"] == "elicitation/create"
    assert request["params"]["mode"] == "url" and request["params"]["url"].startswith(
        f"{GATEWAY_URL}/admin/calls/"
    )
    body = modern_body(
        "tools/call",
        {
            "name": "files__delete_file",
            "arguments": {"path": "/srv/wait.txt"},
            "inputResponses": {key: {"action": "accept"}},
        },
    )
    body["params"]["_meta"][CLIENT_CAPABILITIES_META] = URL_ELICITATION
    headers = modern_headers(world.token, "tools/call", "files__delete_file") | {"Accept": "application/json"}
    retried = held(await http.post(world.mcp, json=body, headers=headers))
    assert retried["approveUrl"] == request["params"]["url"]


# -- deciding at the admin API -----------------------------------------------------------------------


async def test_ap6_approvers_list_read_and_decide_held_calls_at_the_admin_api(
    world: World, http: httpx2.AsyncClient, admin_http: httpx2.AsyncClient
) -> None:
    approval = held(await call(http, world, "files__delete_file", {"path": "/srv/api.txt"}))
    ops = {"Authorization": f"Bearer {await admin_token(admin_http, world, OPS)}"}
    auditor = {"Authorization": f"Bearer {await admin_token(admin_http, world, AUDITOR)}"}
    calls_url = f"{GATEWAY_URL}{paths.ADMIN_CALLS}"

    listed = await admin_http.get(calls_url, params={"status": "pending"}, headers=auditor)
    assert listed.status_code == 200 and listed.headers["cache-control"] == "no-store"
    assert approval["id"] in [c["call_id"] for c in listed.json()["calls"]]
    assert all(c["status"] == "pending" for c in listed.json()["calls"])
    shown = (await admin_http.get(f"{calls_url}/{approval['id']}", headers=auditor)).json()
    assert shown["arguments"] == {"path": "/srv/api.txt"} and shown["fingerprint"]
    problem_of(await admin_http.get(calls_url, params={"status": "maybe"}, headers=auditor), 400)
    problem_of(await admin_http.get(f"{calls_url}/call_nope", headers=auditor), 404)

    refused = problem_of(await admin_http.post(f"{calls_url}/{approval['id']}/approve", headers=auditor), 403)
    assert "security-admin" in refused["detail"]
    problem_of(await admin_http.post(f"{calls_url}/{approval['id']}/deny", json={}, headers=ops), 400)
    approved = await admin_http.post(f"{calls_url}/{approval['id']}/approve", headers=ops)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == OPS
    problem_of(
        await admin_http.post(f"{calls_url}/{approval['id']}/deny", json={"reason": "no"}, headers=ops), 409
    )
    assert (
        completed(await call(http, world, "files__delete_file", {"path": "/srv/api.txt"}))
        == "deleted /srv/api.txt"
    )


async def test_ap6_an_agent_holding_the_admin_role_cannot_approve_its_own_call(
    world: World, http: httpx2.AsyncClient, admin_http: httpx2.AsyncClient
) -> None:
    own_mcp_token = await token_for(http, world, DOUBLE, scope="files", resource=world.mcp)
    approval = held(
        await call(http, world, "files__delete_file", {"path": "/srv/self.txt"}, token=own_mcp_token)
    )
    own_admin_token = await admin_token(admin_http, world, DOUBLE, scope="admin:security-admin")
    refused = await admin_http.post(
        f"{GATEWAY_URL}{paths.ADMIN_CALLS}/{approval['id']}/approve",
        headers={"Authorization": f"Bearer {own_admin_token}"},
    )
    assert "agent that made a call" in problem_of(refused, 403)["detail"]
    assert (await world.desk.get(approval["id"])).status == "pending"
