"""The production layout the README shows: two gateway replicas behind one public address, the
durable records in PostgreSQL and the hot keys in a Redis Cluster (``store`` + ``hot_store``).

Both replicas run under uvicorn, each with the example weather server behind it; they share one
frozen clock, so a one-second bound passes by advancing it. The agent is served by whichever
replica it reaches: a token from one is honoured by the other, a revocation at one is seen by the
other, and a client assertion used at one cannot be replayed at the other. Both write one audit
trail, in the PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest

from gateway import paths
from gateway.clock import FrozenClock
from gateway.config import settings_from
from gateway.settings import Settings
from tests.support.agents import AgentKey, assertion_form
from tests.support.kek import SHARED_STORE_KEK
from tests.support.mcp_requests import modern, wait_for_tools
from tests.support.postgres_servers import PostgresServer
from tests.support.redis_servers import RedisClusterServers
from tests.support.weather_gateway import gateway_before_weather

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.redis]

UPSTREAM = "http://127.0.0.1:9/mcp"
AGENT = "reporter"


@dataclass
class Replicas:
    public_url: str
    """The one address agents know (the load balancer's); both replicas answer as it."""
    addresses: tuple[str, str]
    """Where each replica really listens."""
    clock: FrozenClock
    key: AgentKey
    database: str
    key_prefix: str

    def at(self, replica: int, path: str) -> str:
        return self.addresses[replica] + path

    def assertion(self) -> dict[str, str]:
        now = int(self.clock.now())
        return assertion_form(self.key.assertion(AGENT, self.public_url, iat=now, exp=now + 60))

    async def token(self, http: httpx2.AsyncClient, replica: int, form: dict[str, str] | None = None) -> str:
        answer = await http.post(self.at(replica, paths.TOKEN), data=form or self.assertion())
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token


@pytest.fixture
def replicas(
    postgres_url: str, redis_cluster: RedisClusterServers, postgres_server: PostgresServer
) -> Iterator[Replicas]:
    clock, key, prefix = FrozenClock(time.time()), AgentKey(), f"layout-{uuid.uuid4().hex[:8]}:"
    public: list[str] = []

    def replica(port: int) -> Settings:
        public.append(public[0] if public else f"http://127.0.0.1:{port}")
        return settings_from(
            port=port,
            public_url=public[0],
            store=postgres_url,
            hot_store=f"{redis_cluster.url}?key_prefix={prefix}",
            key_encryption_key=SHARED_STORE_KEK,
            clients=[{"client_id": AGENT, "jwks": key.jwks, "scopes": ["weather:echo"]}],
            servers=[{"id": "weather", "url": UPSTREAM}],
        )

    with contextlib.ExitStack() as stack:
        ports: list[int] = []

        def bound(port: int) -> Settings:
            ports.append(port)
            return replica(port)

        for _ in range(2):
            stack.enter_context(gateway_before_weather(bound, UPSTREAM, clock))
        database = postgres_url.rsplit("/", 1)[1]
        addresses = (f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}")
        yield Replicas(public[0], addresses, clock, key, database, prefix)


async def call_echo(
    http: httpx2.AsyncClient, replicas: Replicas, replica: int, token: str
) -> httpx2.Response:
    mcp = replicas.at(replica, "/mcp")
    await wait_for_tools(http, mcp, token, ["weather__echo"])
    return await modern(
        http, mcp, token, "tools/call", {"name": "weather__echo", "arguments": {"text": "hi"}}
    )


async def test_a_token_from_one_replica_is_honoured_and_revoked_at_the_other(
    replicas: Replicas, http: httpx2.AsyncClient
) -> None:
    token = await replicas.token(http, 0)
    answer = await call_echo(http, replicas, 1, token)
    assert answer.status_code == 200 and "hi" in answer.text, answer.text

    revoked = await http.post(replicas.at(1, paths.REVOKE), data={**replicas.assertion(), "token": token})
    assert revoked.status_code == 200, revoked.text
    refused = await modern(http, replicas.at(0, "/mcp"), token, "tools/list")
    assert refused.status_code == 401  # the deny-list is one Redis key every replica reads


async def test_an_assertion_used_at_one_replica_cannot_be_replayed_at_the_other(
    replicas: Replicas, http: httpx2.AsyncClient
) -> None:
    form = replicas.assertion()
    await replicas.token(http, 0, form)
    replayed = await http.post(replicas.at(1, paths.TOKEN), data=form)
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_client"


async def test_records_live_in_postgresql_and_the_hot_keys_in_the_redis_cluster(
    replicas: Replicas,
    http: httpx2.AsyncClient,
    postgres_server: PostgresServer,
    redis_cluster: RedisClusterServers,
) -> None:
    await replicas.token(http, 0)
    await replicas.token(http, 1)
    records = postgres_server.sql("SELECT count(*) FROM records", replicas.database)
    ephemeral = postgres_server.sql("SELECT count(*) FROM ephemeral", replicas.database)
    assert int(records) > 0 and int(ephemeral) == 0  # the signing keys are records; no key in PostgreSQL
    keys = []
    for node in redis_cluster.nodes:
        with node.client() as client:
            keys += client.keys(f"{replicas.key_prefix}*")
    assert keys, "the assertion's jti is a key in the cluster"
    issued = "SELECT count(*), count(DISTINCT seq), max(seq) FROM audit_events WHERE type = 'token_issued'"
    count, distinct, _ = postgres_server.sql(issued, replicas.database).split("|")
    assert int(count) == int(distinct) == 2, "both replicas' tokens are events of the one trail in PostgreSQL"
