"""Two gateway processes sharing one Redis serve one MCP deployment, one session, one deny-list.

Replica A and replica B run on their own ports with the same store URL and the same public URL
(A's), so both are the same issuer and the same protected resource: a token from either verifies
on both (the signing keys live in the shared store), a session opened on one is served by the
other, and a revocation seen by one is seen by the other at once. A load balancer in front would
pick either replica for any request; the tests alternate on purpose.

Each replica is built on its own (``build_gateway`` twice: its own store connection, key ring,
verified-token cache, upstream transport and refresher), and the gateway keeps no state at module
level, so all they share is Redis, as two processes would. That lets both run in the test's
process: one client reaches each at its own loopback address (``127.0.0.1:<port>``, where nothing
listens), and the example upstream runs beside them. Redis is real: it is what they share.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from gateway.config import settings_from
from gateway.settings import Settings
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from tests.support.agents import AgentKey, agent_token, revoke
from tests.support.inprocess import InProcessGateway, example_upstream, in_process_gateway
from tests.support.kek import SHARED_STORE_KEK
from tests.support.mcp_requests import handshake_headers, in_session, initialize, wait_for_tools
from tests.support.redis_servers import RedisServer
from tests.support.streaming_asgi import StreamingASGITransport
from tests.support.tokens import claims_of

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

A, B = "agent-a", "agent-b"
WEATHER_TOOLS = ["weather__echo", "weather__get_forecast", "weather__list_alerts"]
FIRST_PORT, SECOND_PORT = 8001, 8002
"""The loopback ports the replicas are configured for (nothing listens: requests reach them in process)."""
WEATHER_ORIGIN = "https://weather.test"


@dataclass
class Replicas:
    first: InProcessGateway
    second: InProcessGateway
    keys: dict[str, AgentKey]

    @property
    def resource(self) -> str:
        return self.first.settings.mcp.resource

    def mcp_of(self, replica: InProcessGateway) -> str:
        """Where a client reaches this replica (a load balancer would choose)."""
        return f"http://127.0.0.1:{replica.settings.server.port}{replica.settings.mcp.mcp_path}"

    @property
    def both(self) -> tuple[str, str]:
        return self.mcp_of(self.first), self.mcp_of(self.second)

    def transport(self) -> httpx2.AsyncBaseTransport:
        """How a client reaches both replicas: a request goes to the one at its URL's address."""
        replicas = (self.first, self.second)
        apps = {("127.0.0.1", replica.settings.server.port): replica.app for replica in replicas}

        async def at_address(scope: Scope, receive: Receive, send: Send) -> None:
            await apps[scope["server"]](scope, receive, send)

        return StreamingASGITransport(at_address)

    async def token(self, http: httpx2.AsyncClient, client_id: str, replica: InProcessGateway) -> str:
        """A token from this replica's own ``/token`` (for the shared issuer and resource)."""
        return await agent_token(http, _Replica(replica), self.keys[client_id], client_id)


class _Replica:
    """One replica's authorization endpoints: its own port, the shared issuer.

    ``InProcessGateway.endpoint`` builds URLs from the public URL, which is the first replica's.
    """

    def __init__(self, replica: InProcessGateway) -> None:
        self._port = replica.settings.server.port
        self.issuer = replica.issuer

    def endpoint(self, path: str) -> str:
        return f"http://127.0.0.1:{self._port}{path}"


@pytest.fixture(scope="module")
async def replicas(redis_server: RedisServer) -> AsyncIterator[Replicas]:
    keys = {A: AgentKey(), B: AgentKey()}
    store = f"{redis_server.url}?key_prefix=replicas-{uuid.uuid4().hex[:12]}:"
    audience = f"{WEATHER_ORIGIN}/mcp"

    def settings(port: int, public_url: str = "") -> Settings:
        return settings_from(
            port=port,
            public_url=public_url,
            store=store,
            key_encryption_key=SHARED_STORE_KEK,
            servers=({"id": "weather", "url": audience},),
            clients=tuple(
                {"client_id": client_id, "scopes": ("weather",), "jwks": key.jwks}
                for client_id, key in keys.items()
            ),
        )

    first_transport, second_transport = AsgiTransport({}), AsgiTransport({})
    first = in_process_gateway(settings(FIRST_PORT), first_transport)
    second = in_process_gateway(settings(SECOND_PORT, public_url=first.url), second_transport)
    assert second.issuer == first.issuer
    assert second.settings.mcp.resource == first.settings.mcp.resource
    upstream = example_upstream(first, WEATHER_ORIGIN)
    for transport in (first_transport, second_transport):
        transport.mount(WEATHER_ORIGIN, upstream)
    async with lifespan(upstream), lifespan(first.app), lifespan(second.app):
        yield Replicas(first, second, keys)


@pytest.fixture
def http_transport(replicas: Replicas) -> httpx2.AsyncBaseTransport:
    return replicas.transport()


@pytest.fixture
async def discovered(replicas: Replicas, http: httpx2.AsyncClient) -> Replicas:
    token = await replicas.token(http, A, replicas.first)
    for mcp in replicas.both:
        await wait_for_tools(http, mcp, token, WEATHER_TOOLS)
    return replicas


async def test_two_replicas_sharing_redis_serve_one_session_alternately(
    discovered: Replicas, http: httpx2.AsyncClient
) -> None:
    token = await discovered.token(http, A, discovered.second)  # issued by B, for the shared resource
    assert claims_of(token)["aud"] == discovered.resource
    on_a, on_b = discovered.both
    session_id = await initialize(http, on_a, token)
    for request_id in range(1, 9):
        mcp = (on_b, on_a)[request_id % 2]
        if request_id % 4 < 2:
            response = await in_session(http, mcp, token, session_id, "tools/list", request_id=request_id)
            assert response.status_code == 200, (mcp, response.text)
            assert [tool["name"] for tool in response.json()["result"]["tools"]] == WEATHER_TOOLS
        else:
            arguments = {"name": "weather__echo", "arguments": {"text": str(request_id)}}
            response = await in_session(http, mcp, token, session_id, "tools/call", arguments, request_id)
            assert response.status_code == 200, (mcp, response.text)
            assert response.json()["result"]["content"][0]["text"] == f"{request_id} (for {A} via {A})"
        assert response.json()["id"] == request_id


async def test_a_session_opened_on_one_replica_is_bound_to_its_principal_on_the_other(
    discovered: Replicas, http: httpx2.AsyncClient
) -> None:
    on_a, on_b = discovered.both
    token_a = await discovered.token(http, A, discovered.first)
    token_b = await discovered.token(http, B, discovered.second)
    session_id = await initialize(http, on_a, token_a)
    stolen = await in_session(http, on_b, token_b, session_id, "tools/list")
    assert stolen.status_code == 404, stolen.text
    assert (await in_session(http, on_b, token_a, session_id, "tools/list")).status_code == 200


async def test_a_session_ended_on_one_replica_is_gone_on_the_other(
    discovered: Replicas, http: httpx2.AsyncClient
) -> None:
    on_a, on_b = discovered.both
    token = await discovered.token(http, A, discovered.first)
    session_id = await initialize(http, on_b, token)
    assert (await in_session(http, on_a, token, session_id, "tools/list")).status_code == 200
    ended = await http.delete(on_b, headers=handshake_headers(token, session_id))
    assert ended.status_code in (200, 204)
    for mcp in (on_a, on_b):
        assert (await in_session(http, mcp, token, session_id, "tools/list")).status_code == 404


async def test_a_token_revoked_on_one_replica_is_refused_by_the_other_at_once(
    discovered: Replicas, http: httpx2.AsyncClient
) -> None:
    on_a, on_b = discovered.both
    token = await discovered.token(http, A, discovered.first)
    session_id = await initialize(http, on_a, token)
    for mcp in (on_a, on_b):  # verified, and cached, by both
        assert (await in_session(http, mcp, token, session_id, "tools/list")).status_code == 200
    await revoke(http, _Replica(discovered.second), discovered.keys[A], A, token)
    for mcp in (on_a, on_b):
        response = await in_session(http, mcp, token, session_id, "tools/list")
        assert response.status_code == 401, (mcp, response.text)
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
