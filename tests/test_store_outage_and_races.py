"""The token endpoint under the two things stores do to services: races and outages.

* 200 concurrent requests carrying one assertion: exactly one token (CA-5 on SQLite and Redis);
* Redis stopped (or frozen) while requests flow: ``503 temporarily_unavailable``, never a token
  the gateway could not record, and tokens again once Redis is back, without a restart;
* PostgreSQL stopped, then frozen: the same at ``/token``, and a JSON-RPC error (503) at ``/mcp``
  for a token the gateway issued, then both work again without a restart;
* the audit trail alone on PostgreSQL (the store on SQLite) stopped, then frozen: ``/token`` answers
  503 rather than issue a token it cannot record, and issues again once the trail is back.

The clients' timeouts are what would fail a gateway that hangs instead of answering; no test
asserts a duration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

from gateway.builders import open_configured_state
from gateway.config import settings_from
from gateway.settings import Settings
from gateway.store import Store, StoreUnavailable
from tests.support import postgres_servers, redis_servers
from tests.support.agents import AgentKey, assertion_form
from tests.support.gateway_server import RACE_STORE_DEADLINE_MS, RunningGateway, running_gateway
from tests.support.kek import SHARED_STORE_KEK
from tests.support.mcp_requests import modern_body, modern_headers

AGENT = "racer"
OUTAGE_CLIENT_TIMEOUT = 3.0
"""Loose (the gateway answers within about half a second of an outage), yet a gateway that hung
behind its store would run into it and fail the test."""


def _settings(store: str, key: AgentKey, audit_store: str = "", **overrides: object) -> object:
    def make(port: int) -> Settings:
        return settings_from(
            port=port,
            store=store,
            audit_store=audit_store,
            **overrides,
            key_encryption_key=SHARED_STORE_KEK,
            clients=({"client_id": AGENT, "scopes": ("tools:read",), "jwks": key.jwks},),
        )

    return make


@pytest.mark.anyio
async def test_of_200_concurrent_requests_with_one_assertion_exactly_one_gets_a_token(store_url: str) -> None:
    key = AgentKey()
    race = _settings(store_url, key, store_deadline_ms=RACE_STORE_DEADLINE_MS)
    with running_gateway(race) as gateway:  # type: ignore[arg-type]
        form = assertion_form(key.assertion(AGENT, gateway.issuer))
        statuses: list[int] = []
        limits = httpx2.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx2.AsyncClient(base_url=gateway.url, timeout=30, limits=limits) as http:

            async def attempt() -> None:
                statuses.append((await http.post("/token", data=form)).status_code)

            async with anyio.create_task_group() as group:
                for _ in range(200):
                    group.start_soon(attempt)
    assert statuses.count(200) == 1
    assert statuses.count(401) == 199


@pytest.fixture
def own_redis() -> Iterator[redis_servers.RedisServer]:
    """A Redis of this test's own, because the test stops it."""
    with redis_servers.redis_server() as server:
        yield server


def _token_request(http: httpx2.Client, gateway: RunningGateway, key: AgentKey) -> httpx2.Response:
    return http.post("/token", data=assertion_form(key.assertion(AGENT, gateway.issuer)))


def _assert_no_token(refused: httpx2.Response) -> None:
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "temporarily_unavailable"
    assert "access_token" not in refused.text


def _eventually(request: Callable[[], httpx2.Response]) -> httpx2.Response:
    deadline = time.monotonic() + 10
    while (response := request()).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    return response


@pytest.mark.redis
def test_with_redis_stopped_or_frozen_the_token_endpoint_fails_closed_and_recovers_by_itself(
    own_redis: redis_servers.RedisServer,
) -> None:
    key = AgentKey()
    with (
        running_gateway(_settings(own_redis.url, key)) as gateway,  # type: ignore[arg-type]
        httpx2.Client(base_url=gateway.url, timeout=OUTAGE_CLIENT_TIMEOUT) as http,
    ):
        assert _token_request(http, gateway, key).status_code == 200
        for take_away, bring_back in ((own_redis.stop, own_redis.start), (own_redis.pause, own_redis.resume)):
            take_away()
            try:
                for _ in range(3):
                    _assert_no_token(_token_request(http, gateway, key))
            finally:
                bring_back()
            assert _eventually(lambda: _token_request(http, gateway, key)).status_code == 200


@pytest.mark.redis
@pytest.mark.anyio
async def test_the_store_deadline_setting_is_how_long_a_frozen_redis_is_waited_for(
    own_redis: redis_servers.RedisServer,
) -> None:
    def store_waiting(**deadline: int) -> Store:
        return open_configured_state(
            settings_from(store=own_redis.url, key_encryption_key=SHARED_STORE_KEK, **deadline)
        )

    patient, hasty = store_waiting(store_deadline_ms=5000), store_waiting()
    try:
        await patient.put("greeting", "hello", ttl=60)
        assert await hasty.get("greeting") == "hello"
        own_redis.pause()
        try:
            with pytest.raises(StoreUnavailable):  # the default 0.4 s
                await hasty.get("greeting")
            waiting = asyncio.ensure_future(patient.get("greeting"))
            await asyncio.sleep(0.5)  # how long Redis stays frozen: past the default deadline again
        finally:
            own_redis.resume()
        assert await waiting == "hello"
    finally:
        await patient.close()
        await hasty.close()


@pytest.fixture
def own_postgres() -> Iterator[tuple[postgres_servers.PostgresServer, str]]:
    """A PostgreSQL of this test's own, because the test stops it, with a migrated database."""
    with postgres_servers.postgres_database() as server_and_url:
        yield server_and_url


def _tools_list(http: httpx2.Client, token: str) -> httpx2.Response:
    return http.post("/mcp", json=modern_body("tools/list"), headers=modern_headers(token, "tools/list"))


@pytest.mark.postgres
def test_with_postgres_stopped_or_frozen_token_and_mcp_fail_closed_and_recover_by_themselves(
    own_postgres: tuple[postgres_servers.PostgresServer, str],
) -> None:
    server, url = own_postgres
    key = AgentKey()
    with (
        running_gateway(_settings(url, key)) as gateway,  # type: ignore[arg-type]
        httpx2.Client(base_url=gateway.url, timeout=OUTAGE_CLIENT_TIMEOUT) as http,
    ):
        issued = _token_request(http, gateway, key)
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        assert _tools_list(http, token).status_code == 200
        for take_away, bring_back in ((server.stop, server.start), (server.pause, server.resume)):
            take_away()
            try:
                for _ in range(3):
                    _assert_no_token(_token_request(http, gateway, key))
                    failed = _tools_list(http, token)
                    assert failed.status_code == 503, failed.text
                    assert failed.json()["jsonrpc"] == "2.0" and "error" in failed.json()
            finally:
                bring_back()
            assert _eventually(lambda: _token_request(http, gateway, key)).status_code == 200
            assert _eventually(lambda: _tools_list(http, token)).status_code == 200


@pytest.mark.postgres
def test_with_the_postgres_audit_trail_stopped_or_frozen_token_fails_closed_and_recovers_by_itself(
    own_postgres: tuple[postgres_servers.PostgresServer, str], tmp_path: Path
) -> None:
    server, url = own_postgres
    key = AgentKey()
    settings = _settings(f"sqlite:///{tmp_path / 'gw.sqlite3'}", key, audit_store=url)
    with (
        running_gateway(settings) as gateway,  # type: ignore[arg-type]
        httpx2.Client(base_url=gateway.url, timeout=OUTAGE_CLIENT_TIMEOUT) as http,
    ):
        issued = _token_request(http, gateway, key)
        assert issued.status_code == 200, issued.text
        for take_away, bring_back in ((server.stop, server.start), (server.pause, server.resume)):
            take_away()
            try:
                for _ in range(3):
                    _assert_no_token(_token_request(http, gateway, key))
            finally:
                bring_back()
            assert _eventually(lambda: _token_request(http, gateway, key)).status_code == 200
