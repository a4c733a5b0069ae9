"""Client ID Metadata Documents (RG-2): a client whose id is the https URL of a JSON
document describing it, fetched by the gateway when the client first appears.

Documents are served by a loopback document server that the gateway's fetcher allow-lists
(:mod:`tests.support.client_registration`); a person signs in and consents headlessly. What a
document may say, what must match its URL, and how its caching headers are obeyed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest

from tests.support.agents import AgentKey
from tests.support.browser import Person
from tests.support.client_registration import (
    CB,
    SCOPES,
    World,
    authorize_url,
    cimd_document,
    publish,
    run_flow,
    signed_by,
    unissued_code_form,
)
from tests.support.oauth_errors import assert_error_page, error_of
from tests.support.tokens import claims_of

pytest_plugins = ["tests.support.client_registration"]
pytestmark = pytest.mark.anyio


@pytest.fixture
def base_url(world: World) -> str:
    """``http`` speaks to the module's registration gateway."""
    return world.gateway.url


# == RG-2: Client ID Metadata Documents ====================================================================


async def test_a_cimd_client_served_on_loopback_completes_authorize_and_token(
    world: World, http: httpx2.AsyncClient, person: Person
) -> None:
    url = publish(world, cimd_document, **{"Cache-Control": "max-age=60"})
    outcome, verifier = await run_flow(world.gateway, person, url)
    consent = next(page.text for page in person.pages if "Allow Notes Agent" in page.text)
    assert "127.0.0.1:9999" in consent and url in consent  # the redirect host and the document URL
    form = {
        "grant_type": "authorization_code",
        "code": outcome.code or "",
        "redirect_uri": CB,
        "client_id": url,
        "code_verifier": verifier,
    }
    token = await http.post("/token", data=form)
    assert token.status_code == 200, token.text
    claims = claims_of(token.json()["access_token"])
    assert claims["client_id"] == url and claims["sub"] == person.username
    assert claims["scope"] == " ".join(SCOPES)
    refreshed = await http.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token.json()["refresh_token"],
            "client_id": url,
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    assert world.documents.state.count(urlsplit(url).path) == 1  # cached by its max-age


async def test_a_cimd_document_is_fetched_again_when_its_headers_forbid_caching(
    world: World, http: httpx2.AsyncClient
) -> None:
    url = publish(world, cimd_document)  # Cache-Control: no-store
    for _ in range(2):
        page = await http.get(authorize_url(world.gateway, url)[0])
        assert page.status_code == 200, page.text[:300]
    assert world.documents.state.count(urlsplit(url).path) == 2


@pytest.mark.parametrize(
    "claimed",
    [
        lambda url: url + "/",
        lambda url: url.upper(),
        lambda url: url.replace("127.0.0.1", "localhost"),
        lambda url: url + "?v=2",
        lambda url: "https://notes.example/client.json",
        lambda url: None,
    ],
)
async def test_a_cimd_document_whose_client_id_differs_from_its_url_is_refused(
    world: World, http: httpx2.AsyncClient, claimed: Callable[[str], str | None]
) -> None:
    url = publish(world, lambda url: cimd_document(claimed(url)))
    assert_error_page(
        await http.get(authorize_url(world.gateway, url)[0]), "client_id is not exactly its URL"
    )
    token = await http.post(
        "/token",
        data=unissued_code_form(client_id=url),
    )
    assert error_of(token, 401) == "invalid_client"
    assert "client_id is not exactly its URL" in token.json()["error_description"]


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ({"token_endpoint_auth_method": "client_secret_basic"}, "token_endpoint_auth_method"),
        ({"token_endpoint_auth_method": "client_secret_post"}, "token_endpoint_auth_method"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks or jwks_uri"),
        ({"grant_types": ["authorization_code", "client_credentials"]}, "client_credentials"),
        ({"grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"]}, "may not be registered"),
        ({"response_types": ["token"]}, "only code"),
        ({"redirect_uris": ["http://notes.example/cb"]}, "https unless it is a loopback"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "forbidden scheme"),
        ({"redirect_uris": [CB + "#x"]}, "fragment"),
        ({"redirect_uris": None}, "redirect_uris"),
        ({"client_secret": "s3cret"}, "must not carry a client secret"),
        ({"scope": ["tools:read"]}, "scope must be a string"),
    ],
)
async def test_a_cimd_document_with_unacceptable_metadata_is_refused_with_the_reason(
    world: World, http: httpx2.AsyncClient, members: dict[str, Any], reason: str
) -> None:
    url = publish(world, lambda url: cimd_document(url, **members))
    assert_error_page(
        await http.get(authorize_url(world.gateway, url)[0]), "This client cannot be used", reason
    )


async def test_the_redirect_uri_must_be_one_the_cimd_document_lists(
    world: World, http: httpx2.AsyncClient
) -> None:
    url = publish(world, cimd_document)
    page = await http.get(authorize_url(world.gateway, url, redirect_uri="https://evil.example/cb")[0])
    assert_error_page(page, "redirect URI is not registered")


async def test_cimd_scopes_are_narrowed_to_the_allowed_set(world: World, person: Person) -> None:
    url = publish(world, lambda url: cimd_document(url, scope="tools:read admin:everything"))
    await run_flow(world.gateway, person, url)
    consent = next(page.text for page in person.pages if "Allow Notes Agent" in page.text)
    assert 'value="tools:read"' in consent and "admin:everything" not in consent
    assert 'value="tools:call"' not in consent


async def test_a_cimd_private_key_jwt_client_authenticates_with_its_published_keys(
    world: World, http: httpx2.AsyncClient
) -> None:
    key = AgentKey()
    url = publish(
        world, lambda url: cimd_document(url, token_endpoint_auth_method="private_key_jwt", jwks=key.jwks)
    )
    signed = await http.post("/token", data=unissued_code_form(**signed_by(key, url, world.gateway.issuer)))
    assert error_of(signed) == "invalid_grant"  # authenticated; only the code is wrong
    forged = await http.post(
        "/token", data=unissued_code_form(**signed_by(AgentKey(), url, world.gateway.issuer))
    )
    assert error_of(forged, 401) == "invalid_client"
