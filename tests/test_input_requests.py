"""What an upstream may ask the agent during a call, and what reaches the agent (rule book UP-5).

One in-process gateway in front of three upstreams built with the ``mcp`` SDK's ``MCPServer``
(:mod:`tests.support.asking_upstream`), the same server registered three ways: ``asker`` may ask
for form elicitation and sampling, ``closed`` for nothing (the default), ``linker`` for form and
URL elicitation. Agents are the SDK's own ``Client`` (2026-07-28, answering input requests with
its callbacks) or raw JSON-RPC, where a test reads every byte of the exchange. What the upstreams
were told is read from what they recorded, not from the gateway.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestParams,
    ElicitResult,
    ListRootsResult,
    Root,
    TextContent,
)

from gateway.config import settings_from
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from gateway.upstream.input_requests import (
    MAX_INPUT_REQUESTS,
    MAX_INPUT_REQUESTS_SIZE,
    MAX_KEY,
    MAX_REQUEST_STATE,
    InputGrant,
    declared_kinds,
    relayed,
)
from tests.support.agents import AgentKey, agent_token
from tests.support.asking_upstream import AskingUpstream, asking_app
from tests.support.inprocess import GATEWAY_URL, InProcessGateway, in_process_gateway
from tests.support.mcp_requests import (
    CLIENT_CAPABILITIES_META,
    handshake_headers,
    in_session,
    modern_body,
    modern_headers,
    wait_for_tools,
)

pytestmark = pytest.mark.anyio

AGENT = "agent"
ALLOWED = {"asker": ["elicitation", "sampling"], "closed": None, "linker": ["elicitation", "elicitation.url"]}
EVERYTHING = {"elicitation": {"form": {}, "url": {}}, "sampling": {"tools": {}}, "roots": {}}
"""Client capabilities declaring every kind of input request."""
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021


def origin(server_id: str) -> str:
    return f"https://{server_id}.test"


@dataclass
class World:
    gateway: InProcessGateway
    key: AgentKey
    upstreams: dict[str, AskingUpstream]
    token: str = ""

    @property
    def mcp(self) -> str:
        return self.gateway.settings.mcp.resource


@pytest.fixture(scope="module")
async def world() -> AsyncIterator[World]:
    key = AgentKey()
    servers = tuple(
        {"id": s, "url": f"{origin(s)}/mcp", **({"input_requests": kinds} if kinds is not None else {})}
        for s, kinds in ALLOWED.items()
    )
    settings = settings_from(
        public_url=GATEWAY_URL,
        store="memory://",
        servers=servers,
        clients=({"client_id": AGENT, "scopes": tuple(ALLOWED), "jwks": key.jwks},),
    )
    transport = AsgiTransport({})
    gateway = in_process_gateway(settings, transport)
    upstreams = {s: AskingUpstream(s) for s in ALLOWED}
    apps = {s: asking_app(u, gateway.issuer, origin(s), gateway.transport()) for s, u in upstreams.items()}
    for server_id, app in apps.items():
        transport.mount(origin(server_id), app)
    async with contextlib.AsyncExitStack() as running:
        for app in [*apps.values(), gateway.app]:
            await running.enter_async_context(lifespan(app))
        world = World(gateway, key, upstreams)
        async with gateway.client() as http:
            world.token = await agent_token(http, gateway, key, AGENT)
            wanted = [f"{s}__{tool}" for s in ALLOWED for tool in ("greet", "haiku", "insist")]
            await wait_for_tools(http, world.mcp, world.token, wanted)
        yield world


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx2.AsyncClient]:
    async with world.gateway.client() as client:
        yield client


async def call(
    http: httpx2.AsyncClient,
    world: World,
    tool: str,
    arguments: dict[str, Any],
    capabilities: dict[str, Any],
    **retry: Any,
) -> httpx2.Response:
    """One raw 2026-07-28 ``tools/call`` declaring ``capabilities`` (``retry``: inputResponses …)."""
    body = modern_body("tools/call", {"name": tool, "arguments": arguments, **retry})
    body["params"]["_meta"][CLIENT_CAPABILITIES_META] = capabilities
    headers = modern_headers(world.token, "tools/call", tool) | {"Accept": "application/json"}
    return await http.post(world.mcp, json=body, headers=headers)


def refused_by_gateway(response: httpx2.Response, server_id: str, fragment: str) -> None:
    """The gateway's own error naming the upstream: the input request never reached the agent."""
    assert response.status_code == 200, response.text
    error = response.json()["error"]
    assert error["data"]["upstream"] == server_id and server_id in error["message"], error
    assert fragment in error["message"], error
    assert "inputRequests" not in response.text


def refused_by_upstream(response: httpx2.Response, server_id: str) -> None:
    """The SDK upstream itself refused to ask: it was told the client cannot be asked."""
    error = response.json()["error"]
    assert error["data"] == {"upstream": server_id, "upstreamCode": MISSING_REQUIRED_CLIENT_CAPABILITY}, error


@dataclass
class Person:
    """The SDK client's callbacks: a person who answers every question, and a model that writes."""

    asked: list[Any]

    async def elicit(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params)
        return ElicitResult(action="accept", content={"name": "Ada"})

    async def sample(self, context: Any, params: CreateMessageRequestParams) -> CreateMessageResult:
        self.asked.append(params)
        text = TextContent(type="text", text="rain on the roof")
        return CreateMessageResult(role="assistant", content=text, model="test-model")

    async def roots(self, context: Any) -> ListRootsResult:
        self.asked.append("roots")
        return ListRootsResult(roots=[Root(uri="file:///home/ada/secrets")])


def sdk_client(world: World, http: httpx2.AsyncClient, person: Person | None) -> Client:
    callbacks: dict[str, Any] = (
        {
            "elicitation_callback": person.elicit,
            "sampling_callback": person.sample,
            "list_roots_callback": person.roots,
        }
        if person is not None
        else {}
    )
    return Client(streamable_http_client(world.mcp, http_client=http), mode="2026-07-28", **callbacks)


@pytest.fixture
async def agent_http(world: World) -> AsyncIterator[httpx2.AsyncClient]:
    """The SDK agent's own HTTP client: the gateway in process, the agent's token on every request."""
    async with world.gateway.client() as client:
        client.headers["Authorization"] = f"Bearer {world.token}"
        yield client


async def test_up5_elicitation_and_sampling_reach_an_sdk_agent_that_declared_them_when_the_server_allows_them(
    world: World, agent_http: httpx2.AsyncClient
) -> None:
    person = Person([])
    async with sdk_client(world, agent_http, person) as client:
        greeted = await client.call_tool("asker__greet", {})
        written = await client.call_tool("asker__haiku", {})
    assert not greeted.is_error and greeted.content == [TextContent(type="text", text="hello Ada")]
    assert not written.is_error and written.content[0] == TextContent(
        type="text", text="the model wrote: rain on the roof"
    )
    elicited, sampled = person.asked  # each question once, roots never (asker may not ask for them)
    assert elicited.message == "What is your name?"
    assert isinstance(sampled, CreateMessageRequestParams)


async def test_up5_the_upstream_is_told_what_the_agent_declared_and_the_server_allows_and_no_more(
    world: World, agent_http: httpx2.AsyncClient
) -> None:
    """The SDK agent declares elicitation (form and URL), sampling and roots; ``asker`` may ask for
    form elicitation and sampling; ``closed`` for nothing; ``linker`` for both elicitation modes."""
    async with sdk_client(world, agent_http, Person([])) as client:
        for server_id in ALLOWED:  # roots: declared, allowed nowhere; the SDK agent is told so
            with pytest.raises(MCPError, match=f"upstream {server_id} asked for") as refused:
                await client.call_tool(f"{server_id}__insist", {"kind": "roots"})
            assert refused.value.error.data == {"upstream": server_id}
    told = {server_id: upstream.seen[-1].capabilities for server_id, upstream in world.upstreams.items()}
    assert told == {  # elicitation: {} would be form too; the gateway names each mode it grants
        "asker": {"elicitation": {"form": {}}, "sampling": {}},
        "closed": {},
        "linker": {"elicitation": {"form": {}, "url": {}}},
    }


async def test_up5_nothing_is_asked_of_an_agent_that_did_not_declare_it(
    world: World, http: httpx2.AsyncClient
) -> None:
    refused_by_upstream(await call(http, world, "asker__greet", {}, {}), "asker")
    assert world.upstreams["asker"].seen[-1].capabilities == {}
    sampling_only = await call(http, world, "asker__insist", {"kind": "elicitation"}, {"sampling": {}})
    refused_by_gateway(sampling_only, "asker", "elicitation, which is not granted")
    assert world.upstreams["asker"].seen[-1].capabilities == {"sampling": {}}


async def test_up5_a_server_registered_without_input_requests_can_ask_nothing(
    world: World, http: httpx2.AsyncClient
) -> None:
    refused_by_upstream(await call(http, world, "closed__greet", {}, EVERYTHING), "closed")
    assert world.upstreams["closed"].seen[-1].capabilities == {}
    for kind in ("elicitation", "elicitation.url", "sampling", "roots"):
        asked = await call(http, world, "closed__insist", {"kind": kind}, EVERYTHING)
        refused_by_gateway(asked, "closed", "does not relay")


async def test_up5_url_elicitation_is_relayed_only_from_a_server_allowed_it_explicitly(
    world: World, http: httpx2.AsyncClient
) -> None:
    asker = await call(http, world, "asker__insist", {"kind": "elicitation.url"}, EVERYTHING)
    refused_by_gateway(asker, "asker", "elicitation.url, which is not granted")
    linker = await call(http, world, "linker__insist", {"kind": "elicitation.url"}, EVERYTHING)
    result = linker.json()["result"]
    assert result["resultType"] == "input_required"
    assert result["inputRequests"]["ask"]["params"]["url"] == "https://phish.test/login"
    no_url = await call(
        http, world, "linker__insist", {"kind": "elicitation.url"}, {"elicitation": {"form": {}}}
    )
    refused_by_gateway(no_url, "linker", "elicitation.url, which is not granted")


async def test_up5_the_input_requests_and_request_state_go_back_verbatim_to_the_upstream_that_made_them(
    world: World, http: httpx2.AsyncClient
) -> None:
    asker = world.upstreams["asker"]
    first = await call(http, world, "asker__insist", {"kind": "elicitation"}, EVERYTHING)
    relayed = first.json()["result"]
    sent = asker.answers()[-1]["result"]  # what the upstream put on the wire
    assert relayed == {k: sent[k] for k in ("resultType", "inputRequests", "requestState")}
    state = relayed["requestState"]
    assert state != "insisted:elicitation", "the SDK upstream sealed its state"

    answer = {"ask": {"action": "accept", "content": {"ok": True}}}
    second = await call(
        http,
        world,
        "asker__insist",
        {"kind": "elicitation"},
        EVERYTHING,
        inputResponses=answer,
        requestState=state,
    )
    result = second.json()["result"]
    assert result["resultType"] == "complete"
    assert json.loads(result["content"][0]["text"]) == {"ask": {"action": "accept", "content": {"ok": True}}}
    retried = asker.calls()[-1]
    assert (retried["requestState"], retried["inputResponses"]) == (state, answer)
    assert asker.seen[-1].request_state == "insisted:elicitation", (
        "the upstream's seal held: it was its own state"
    )
    for other in ("closed", "linker"):
        assert all(call.get("requestState") != state for call in world.upstreams[other].calls())
    token = asker.tokens[-1]  # the retry carried a downstream token for this upstream, as every call
    assert token["aud"] == f"{origin('asker')}/mcp" and token["act"]["sub"] == AGENT


@pytest.mark.parametrize(
    ("retry", "fragment"),
    [
        ({"requestState": "x" * (MAX_REQUEST_STATE + 1)}, "requestState must be a string"),
        ({"requestState": 12345}, "requestState must be a string"),
        (
            {"inputResponses": {f"k{n}": {"action": "cancel"} for n in range(MAX_INPUT_REQUESTS + 1)}},
            "inputResponses must be a map",
        ),
        ({"inputResponses": ["not", "a", "map"]}, "inputResponses must be a map"),
    ],
)
async def test_up5_an_oversized_or_malformed_retry_is_refused_before_any_upstream_sees_it(
    world: World, http: httpx2.AsyncClient, retry: dict[str, Any], fragment: str
) -> None:
    before = len(world.upstreams["asker"].wire)
    response = await call(http, world, "asker__insist", {"kind": "elicitation"}, EVERYTHING, **retry)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == -32602 and fragment in error["message"], error
    assert len(world.upstreams["asker"].wire) == before


async def test_up5_an_agent_in_the_handshake_era_is_asked_nothing(
    world: World, http: httpx2.AsyncClient
) -> None:
    """The 2025 handshake relays no server-to-client requests: whatever the agent declared in its
    ``initialize`` (or slipped into ``_meta`` under the 2026-07-28 key), the upstream is told the
    client can be asked nothing."""
    initialize = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": EVERYTHING,
            "clientInfo": {"name": "a", "version": "1"},
        },
    }
    opened = await http.post(world.mcp, json=initialize, headers=handshake_headers(world.token))
    session = opened.headers["mcp-session-id"]
    sneaked = {"name": "asker__greet", "arguments": {}, "_meta": {CLIENT_CAPABILITIES_META: EVERYTHING}}
    greeted = await in_session(http, world.mcp, world.token, session, "tools/call", sneaked)
    refused_by_upstream(greeted, "asker")
    assert world.upstreams["asker"].seen[-1].capabilities == {}
    insisted = await in_session(
        http,
        world.mcp,
        world.token,
        session,
        "tools/call",
        {"name": "asker__insist", "arguments": {"kind": "elicitation"}},
    )
    refused_by_gateway(insisted, "asker", "does not relay")


# -- the decision on its own: what is granted, and which results stay within bounds ---------------

FORM = {"method": "elicitation/create", "params": {"message": "m", "requestedSchema": {"type": "object"}}}
SAMPLE = {"method": "sampling/createMessage", "params": {"messages": [], "maxTokens": 5}}
GRANT = InputGrant(frozenset({"elicitation", "sampling"}))


def input_required(requests: Any = None, state: Any = None) -> dict[str, Any]:
    result: dict[str, Any] = {"resultType": "input_required"}
    if requests is not None:
        result["inputRequests"] = requests
    if state is not None:
        result["requestState"] = state
    return result


@pytest.mark.parametrize(
    ("declared", "kinds", "sampling_tools"),
    [
        ({"elicitation": {}}, {"elicitation"}, False),  # the shape before modes: form
        ({"elicitation": {"url": {}}}, {"elicitation.url"}, False),
        ({"elicitation": {"form": {}, "url": {}}}, {"elicitation", "elicitation.url"}, False),
        ({"sampling": {"tools": {}, "context": {}}, "roots": {}}, {"sampling", "roots"}, True),
        ({"sampling": True, "elicitation": "yes", "roots": None}, set(), False),
        ("everything", set(), False),
        (None, set(), False),
    ],
)
def test_up5_declared_capabilities_are_read_as_the_sdk_reads_them(
    declared: object, kinds: set[str], sampling_tools: bool
) -> None:
    assert declared_kinds(declared) == (frozenset(kinds), sampling_tools)


def test_up5_the_grant_is_the_intersection_and_never_claims_other_servers_context() -> None:
    grant = InputGrant.of(
        {"sampling": {"tools": {}, "context": {}}, "elicitation": {}}, ["sampling", "roots"]
    )
    assert grant.client_capabilities() == {"sampling": {"tools": {}}}
    assert InputGrant.of(EVERYTHING, ()).client_capabilities() == {}
    assert (
        InputGrant.of({}, ("elicitation", "elicitation.url", "sampling", "roots")).client_capabilities() == {}
    )


@pytest.mark.parametrize(
    ("result", "fragment"),
    [
        (input_required({f"k{n}": FORM for n in range(MAX_INPUT_REQUESTS + 1)}), "at most 16 requests"),
        (input_required({"k": FORM}, "s" * (MAX_REQUEST_STATE + 1)), "requestState that is not"),
        (input_required({"k": FORM}, 7), "requestState that is not"),
        (input_required(), "without input requests or request state"),
        (input_required(["not", "a", "map"]), "not a map"),
        (input_required({"k" * (MAX_KEY + 1): FORM}), "key longer than"),
        (input_required({"big": {**FORM, "pad": "x" * MAX_INPUT_REQUESTS_SIZE}}), "larger than"),
        (input_required({"k": {"method": "tasks/get", "params": {}}}), "a kind the gateway does not know"),
        (
            input_required({"k": {"method": "elicitation/create", "params": {"mode": "mind"}}}),
            "does not know",
        ),
        (input_required({"k": "elicitation/create"}), "does not know"),
        (input_required({"k": {"method": "roots/list"}}), "roots, which is not granted"),
        (
            input_required({"k": {**SAMPLE, "params": {**SAMPLE["params"], "includeContext": "allServers"}}}),
            "context from other servers",
        ),
        (
            input_required({"k": {**SAMPLE, "params": {**SAMPLE["params"], "tools": [{"name": "t"}]}}}),
            "with tools",
        ),
    ],
)
def test_up5_an_input_required_result_out_of_bounds_is_refused(result: dict[str, Any], fragment: str) -> None:
    refused = GRANT.refusal(result)
    assert refused is not None and fragment in refused, refused


def test_up5_an_input_required_result_within_bounds_is_relayed_unchanged_without_the_upstreams_meta() -> None:
    requests = {
        "a": FORM,
        "b": SAMPLE,
        "c": {**SAMPLE, "params": {**SAMPLE["params"], "includeContext": "none"}},
    }
    result = {**input_required(requests, "opaque"), "_meta": {"io.modelcontextprotocol/serverInfo": {}}}
    assert GRANT.refusal(result) is None
    assert relayed(result) == input_required(requests, "opaque")
    assert GRANT.refusal(input_required(state="only state")) is None
    with_tools = InputGrant(frozenset({"sampling"}), sampling_tools=True)
    assert (
        with_tools.refusal(input_required({"k": {**SAMPLE, "params": {**SAMPLE["params"], "tools": []}}}))
        is None
    )
