"""Each rule of refresh tokens, proven on a running gateway.

RT-1 … RT-3, one named test (or parametrized family) per rule. The gateway runs under
uvicorn on a SQLite file; the concurrency tests also run on a private Redis server. A headless
person (:class:`tests.support.browser.Person`) signs in and consents, then the test plays the public
client ``desk`` (:mod:`tests.support.code_flow`): it redeems the code, refreshes, introspects and
revokes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import httpx2
import pytest

from gateway.clock import FrozenClock
from tests.support.code_flow import (
    DESK,
    OTHER,
    WEATHER,
    introspect,
    on_clock,
    refresh,
    settings_for,
    sqlite_url,
    tokens_for,
)
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_clients import http_client
from tests.support.oauth_errors import error_of
from tests.support.tokens import claims_of
from tests.support.users import signed_up


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """One gateway for the module; each test signs up a user of its own."""
    with running_gateway(settings_for(sqlite_url(tmp_path_factory))) as running:
        yield running


@pytest.fixture
def base_url(gateway: RunningGateway) -> str:
    """``http`` speaks to this module's gateway."""
    return gateway.url


# == RT-1: rotation on every use; reuse revokes the family =======================================


@pytest.mark.anyio
async def test_rt1_a_refresh_token_rotates_on_every_use(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        tokens = await tokens_for(gateway, http, person)
    seen = {tokens["refresh_token"]}
    current = tokens["refresh_token"]
    for _ in range(3):
        response = await refresh(http, current)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["refresh_token"] not in seen
        assert (await introspect(http, body["access_token"]))["active"] is True
        seen.add(body["refresh_token"])
        current = body["refresh_token"]


@pytest.mark.anyio
async def test_rt1_reuse_of_a_rotated_token_revokes_the_family_and_its_access_tokens(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        first = await tokens_for(gateway, http, person)
        unrelated = await tokens_for(gateway, http, person)
    second = (await refresh(http, first["refresh_token"])).json()
    third = (await refresh(http, second["refresh_token"])).json()
    access = [first["access_token"], second["access_token"], third["access_token"]]
    for token in access:
        assert (await introspect(http, token))["active"] is True

    assert error_of(await refresh(http, first["refresh_token"])) == "invalid_grant"

    for token in access:
        assert await introspect(http, token) == {"active": False}
    assert error_of(await refresh(http, third["refresh_token"])) == "invalid_grant"  # the live one
    # Another grant of the same user and client lives on.
    assert (await introspect(http, unrelated["access_token"]))["active"] is True
    assert (await refresh(http, unrelated["refresh_token"])).status_code == 200


@pytest.mark.anyio
async def test_rt1_two_concurrent_uses_of_one_refresh_token_kill_the_family(store_url: str) -> None:
    with running_gateway(settings_for(store_url)) as gw:
        async with http_client(gw.url) as http, signed_up(gw.settings.server.store) as person:
            for _ in range(5):
                tokens = await tokens_for(gw, http, person)
                responses: list[httpx2.Response] = []

                async def use(refresh_token: str) -> None:
                    responses.append(await refresh(http, refresh_token))

                async with anyio.create_task_group() as group:
                    group.start_soon(use, tokens["refresh_token"])
                    group.start_soon(use, tokens["refresh_token"])

                winners = [r.json() for r in responses if r.status_code == 200]
                assert len(winners) <= 1, [r.text for r in responses]
                assert all(error_of(r) == "invalid_grant" for r in responses if r.status_code != 200)
                for token in [tokens["access_token"], *(w["access_token"] for w in winners)]:
                    assert await introspect(http, token) == {"active": False}
                for winner in winners:
                    assert error_of(await refresh(http, winner["refresh_token"])) == "invalid_grant"


# == RT-2: a refresh never widens scope or resource and stays with its client ====================


@pytest.mark.anyio
async def test_rt2_a_refresh_cannot_widen_the_scope(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        tokens = await tokens_for(gateway, http, person, scope="tools:read")
    assert (
        error_of(await refresh(http, tokens["refresh_token"], scope="tools:read tools:call"))
        == "invalid_scope"
    )
    assert error_of(await refresh(http, tokens["refresh_token"], scope="tools:call")) == "invalid_scope"
    assert error_of(await refresh(http, tokens["refresh_token"], scope="admin")) == "invalid_scope"
    response = await refresh(http, tokens["refresh_token"])
    assert response.status_code == 200 and response.json()["scope"] == "tools:read"


@pytest.mark.anyio
async def test_rt2_a_refresh_may_narrow_the_scope(gateway: RunningGateway, http: httpx2.AsyncClient) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        tokens = await tokens_for(gateway, http, person)
    response = await refresh(http, tokens["refresh_token"], scope="tools:read")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "tools:read"
    assert claims_of(response.json()["access_token"])["scope"] == "tools:read"


@pytest.mark.anyio
async def test_rt2_a_refresh_token_is_bound_to_its_client(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        tokens = await tokens_for(gateway, http, person)
    assert error_of(await refresh(http, tokens["refresh_token"], client_id=OTHER)) == "invalid_grant"


@pytest.mark.anyio
async def test_rt2_a_refresh_cannot_change_the_resource(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    mcp = gateway.settings.mcp.resource
    async with signed_up(gateway.settings.server.store) as person:
        tokens = await tokens_for(gateway, http, person)
    assert error_of(await refresh(http, tokens["refresh_token"], resource=WEATHER)) == "invalid_target"
    response = await refresh(http, tokens["refresh_token"], resource=mcp)
    assert response.status_code == 200, response.text
    assert claims_of(response.json()["access_token"])["aud"] == mcp


# == RT-3: revocation and expiry ==================================================================


@pytest.mark.anyio
@pytest.mark.parametrize("which", ["live", "rotated"])
async def test_rt3_revoking_a_refresh_token_revokes_its_family_and_access_tokens(
    gateway: RunningGateway, http: httpx2.AsyncClient, which: str
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        first = await tokens_for(gateway, http, person)
    second = (await refresh(http, first["refresh_token"])).json()
    target = second["refresh_token"] if which == "live" else first["refresh_token"]
    revoked = await http.post(
        "/revoke", data={"token": target, "token_type_hint": "refresh_token", "client_id": DESK}
    )
    assert revoked.status_code == 200, revoked.text
    assert error_of(await refresh(http, second["refresh_token"])) == "invalid_grant"
    for token in (first["access_token"], second["access_token"]):
        assert await introspect(http, token) == {"active": False}


@pytest.mark.anyio
async def test_rt3_another_client_cannot_revoke_a_refresh_token(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        tokens = await tokens_for(gateway, http, person)
    revoked = await http.post("/revoke", data={"token": tokens["refresh_token"], "client_id": OTHER})
    assert revoked.status_code == 200
    assert (await introspect(http, tokens["access_token"]))["active"] is True
    assert (await refresh(http, tokens["refresh_token"])).status_code == 200


@pytest.mark.anyio
async def test_rt3_an_idle_refresh_token_expires(tmp_path_factory: pytest.TempPathFactory) -> None:
    clock = FrozenClock(time.time())
    settings = settings_for(sqlite_url(tmp_path_factory), refresh_token_idle_ttl=1)
    with running_gateway(settings, build=on_clock(clock)) as gw:
        async with http_client(gw.url) as http, signed_up(gw.settings.server.store) as person:
            tokens = await tokens_for(gw, http, person)
            used = await refresh(http, tokens["refresh_token"])  # within the idle time: fine
            assert used.status_code == 200, used.text
            clock.advance(1.5)
            assert error_of(await refresh(http, used.json()["refresh_token"])) == "invalid_grant"


@pytest.mark.anyio
async def test_rt3_a_refresh_token_expires_at_its_absolute_lifetime(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    clock = FrozenClock(time.time())
    settings = settings_for(sqlite_url(tmp_path_factory), refresh_token_absolute_ttl=1)
    with running_gateway(settings, build=on_clock(clock)) as gw:
        async with http_client(gw.url) as http, signed_up(gw.settings.server.store) as person:
            tokens = await tokens_for(gw, http, person)
            untouched = await tokens_for(gw, http, person)
            used = await refresh(http, tokens["refresh_token"])
            assert used.status_code == 200, used.text
            current = used.json()["refresh_token"]
            for _ in range(5):  # kept busy for 1.5 s: never idle, yet it ends
                clock.advance(0.3)
                response = await refresh(http, current)
                if response.status_code != 200:
                    break
                current = response.json()["refresh_token"]
            assert error_of(await refresh(http, current)) == "invalid_grant"
            # A grant never refreshed (its record kept for the idle time) ends at the same moment.
            assert error_of(await refresh(http, untouched["refresh_token"])) == "invalid_grant"
