"""The SSRF rules of the documents a client names (RG-2, CA-6): a Client ID Metadata
Document URL, or a ``jwks_uri`` (registered or in such a document), that points at a private
address is refused without any connection.

Test hostnames resolve to 127.0.0.1 through the fetcher's resolver seam *without* an allow-list
entry (:mod:`tests.support.client_registration`), so the rules are proven on the real fetcher, and
a loopback listener counts the connections made to it: none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest

from gateway.app import create_app
from gateway.clock import FrozenClock
from gateway.composition import build_gateway
from gateway.config import settings_from
from gateway.oauth.clients.metadata_documents import METADATA_LOOKUPS_PER_MINUTE, NOT_FETCHED
from gateway.settings import Settings
from gateway.store.memory import MemoryStore
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from tests.support.agents import AgentKey
from tests.support.client_registration import (
    PRIVATE_CIMD_HOST,
    PRIVATE_JWKS_HOST,
    World,
    authorize_url,
    cimd_document,
    publish,
    registered,
    signed_by,
    unissued_code_form,
)
from tests.support.gateway_server import running_gateway
from tests.support.http_clients import http_client
from tests.support.inprocess import InProcessGateway
from tests.support.oauth_errors import assert_error_page, error_of

pytest_plugins = ["tests.support.client_registration"]
pytestmark = pytest.mark.anyio


@pytest.fixture
def base_url(world: World) -> str:
    """``http`` speaks to the module's registration gateway."""
    return world.gateway.url


@pytest.mark.parametrize(
    ("make_url", "reason"),  # why a fetch failed is never told (RG-3): one answer for them all
    [
        (lambda world: f"http://{PRIVATE_CIMD_HOST}:{world.listener.port}/client.json", NOT_FETCHED),
        (lambda world: f"https://{PRIVATE_CIMD_HOST}:{world.listener.port}/client.json", NOT_FETCHED),
        (lambda world: f"https://127.0.0.1:{world.listener.port}/client.json", NOT_FETCHED),
        (lambda world: f"https://[::ffff:127.0.0.1]:{world.listener.port}/client.json", NOT_FETCHED),
        (lambda world: "https://169.254.169.254/latest/meta-data/client", NOT_FETCHED),
        (lambda world: f"https://{PRIVATE_CIMD_HOST}:{world.listener.port}/a/../client.json", ". or .."),
        (lambda world: f"https://u:p@{PRIVATE_CIMD_HOST}:{world.listener.port}/client.json", "userinfo"),
    ],
)
async def test_a_cimd_url_pointing_at_a_private_address_is_refused_without_any_connection(
    world: World, http: httpx2.AsyncClient, make_url: Callable[[World], str], reason: str
) -> None:
    url = make_url(world)
    world.listener.accepted()
    assert_error_page(
        await http.get(authorize_url(world.gateway, url)[0]), "This client cannot be used", reason
    )
    token = await http.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": url}
    )
    assert error_of(token, 401) == "invalid_client" and reason in token.json()["error_description"]
    assert world.listener.accepted() == 0


async def test_a_cimd_jwks_uri_pointing_at_a_private_address_is_refused_without_any_connection(
    world: World, http: httpx2.AsyncClient
) -> None:
    key = AgentKey()
    jwks_uri = f"https://{PRIVATE_JWKS_HOST}:{world.listener.port}/jwks"
    url = publish(
        world, lambda url: cimd_document(url, token_endpoint_auth_method="private_key_jwt", jwks_uri=jwks_uri)
    )
    world.listener.accepted()
    calls_before = len(world.resolver.calls)
    response = await http.post("/token", data=unissued_code_form(**signed_by(key, url, world.gateway.issuer)))
    assert error_of(response, 401) == "invalid_client"
    assert "jwks_uri" in response.json()["error_description"]
    assert "not allowed" in response.json()["error_description"]
    assert (PRIVATE_JWKS_HOST, world.listener.port) in world.resolver.calls[calls_before:]
    assert world.listener.accepted() == 0


async def test_a_dcr_jwks_uri_pointing_at_a_private_address_is_refused_without_any_connection(
    world: World, http: httpx2.AsyncClient
) -> None:
    key = AgentKey()
    jwks_uri = f"https://{PRIVATE_JWKS_HOST}:{world.listener.port}/keys"
    client = await registered(http, token_endpoint_auth_method="private_key_jwt", jwks_uri=jwks_uri)
    world.listener.accepted()
    authentication = signed_by(key, client["client_id"], world.gateway.issuer)
    response = await http.post("/token", data=unissued_code_form(**authentication))
    assert error_of(response, 401) == "invalid_client"
    assert "not allowed" in response.json()["error_description"]
    assert world.listener.accepted() == 0


# == RG-3: metadata documents have a fetch policy of their own ========================================


async def test_rg3_a_document_is_never_fetched_from_a_private_address_whatever_the_allow_list_says(
    world: World, tmp_path: Path
) -> None:
    """The gateway's own metadata fetcher (no test seam): https only, never loopback, even though
    the ``jwks_uri`` allow-list names the document server."""
    url = publish(world, cimd_document)
    https = url.replace("http://", "https://", 1)
    allowed = (f"127.0.0.1:{world.documents.port}",)

    def settings(port: int) -> Settings:
        return settings_from(port=port, store="memory://", fetch_allowed_private_hosts=allowed)

    with running_gateway(settings) as gateway:
        async with http_client(gateway.url) as http:
            for client_id in (url, https):
                page = await http.get(authorize_url(gateway, client_id)[0])
                assert_error_page(page, NOT_FETCHED)
    assert world.documents.state.count(urlsplit(url).path) == 0


async def test_rg3_a_refused_document_is_remembered_and_not_fetched_again(
    world: World, http: httpx2.AsyncClient
) -> None:
    url = publish(world, lambda url: cimd_document("https://someone-else.example/client.json"))
    for _ in range(3):
        assert_error_page(await http.get(authorize_url(world.gateway, url)[0]), "not exactly its URL")
    assert world.documents.state.count(urlsplit(url).path) == 1


async def test_rg3_client_id_urls_asked_for_from_one_address_are_limited(tmp_path: Path) -> None:
    clock = FrozenClock(1_700_000_000.0)
    settings = settings_from(public_url="https://gateway.test", store="memory://")
    gateway = build_gateway(settings, MemoryStore(clock), clock=clock, transport=AsgiTransport({}))
    in_process = InProcessGateway(settings, gateway, create_app(gateway))
    async with lifespan(in_process.app), in_process.client() as http:
        statuses = [
            (
                await http.get(f"https://gateway.test/authorize?client_id=https://c{n}.example/x.json")
            ).status_code
            for n in range(METADATA_LOOKUPS_PER_MINUTE + 1)
        ]
    assert statuses[:-1] == [400] * METADATA_LOOKUPS_PER_MINUTE and statuses[-1] == 429
