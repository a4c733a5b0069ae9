"""The SSRF rules of the documents a client names (RG-2, CA-6): a Client ID Metadata
Document URL, or a ``jwks_uri`` (registered or in such a document), that points at a private
address is refused without any connection.

Test hostnames resolve to 127.0.0.1 through the fetcher's resolver seam *without* an allow-list
entry (:mod:`tests.support.client_registration`), so the rules are proven on the real fetcher, and
a loopback listener counts the connections made to it: none.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest

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
from tests.support.oauth_errors import assert_error_page, error_of

pytest_plugins = ["tests.support.client_registration"]
pytestmark = pytest.mark.anyio


@pytest.fixture
def base_url(world: World) -> str:
    """``http`` speaks to the module's registration gateway."""
    return world.gateway.url


@pytest.mark.parametrize(
    ("make_url", "reason"),
    [
        (lambda world: f"http://{PRIVATE_CIMD_HOST}:{world.listener.port}/client.json", "must use https"),
        (lambda world: f"https://{PRIVATE_CIMD_HOST}:{world.listener.port}/client.json", "not allowed"),
        (lambda world: f"https://127.0.0.1:{world.listener.port}/client.json", "not allowed"),
        (lambda world: f"https://[::ffff:127.0.0.1]:{world.listener.port}/client.json", "not allowed"),
        (lambda world: "https://169.254.169.254/latest/meta-data/client", "not allowed"),
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
