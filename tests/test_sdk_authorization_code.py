"""The official ``mcp`` SDK's ``OAuthClientProvider`` runs the whole authorization code flow.

A person signs in and consents headlessly (:class:`tests.support.browser.Person`, on its own httpx2
client: the provider's client is busy inside its auth flow, and reusing it deadlocks). The
client is pre-registered as a public client (``auth_method = "none"``) and the provider's
``TokenStorage`` already holds its record, so no dynamic registration happens.

The flow starts from the protected resource's 401 (``/mcp`` and its RFC 9728 metadata, mounted
in front of the gateway by :func:`tests.support.protected_resource.with_protected_resource`), goes
through RFC 8414 discovery, ``/authorize`` with PKCE and ``resource``, the RFC 9207 ``iss``
check, the code exchange at ``/token``, and ends at ``/mcp`` with the token. Refreshes rotate the
refresh token and the SDK keeps the rotated one. Each test runs on SQLite and on Redis.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx2
import pytest
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, OAuthFlowError
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from examples.agent import MemoryTokenStorage
from gateway.config import settings_from
from gateway.settings import Settings
from tests.support.authorization_code import query_of
from tests.support.browser import Person
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.kek import SHARED_STORE_KEK
from tests.support.protected_resource import CHALLENGED_SCOPE, HELD_SCOPES, with_protected_resource
from tests.support.sdk_clients import SdkBrowser
from tests.support.tokens import verified_claims
from tests.support.users import PASSWORD, add_user

PUBLIC_CLIENT = "sdk-public-agent"
REDIRECT_URI = "http://127.0.0.1:47913/callback"
"""Nothing listens here: the person stops at the redirect and hands its query to the SDK."""


@pytest.fixture
async def username(store_url: str) -> str:
    """A fresh user in the store the gateway will open (the Redis server is shared by the session)."""
    name = f"alice-{secrets.token_hex(4)}"
    await add_user(store_url, name, PASSWORD)
    return name


@pytest.fixture
def gateway(store_url: str, username: str) -> Iterator[RunningGateway]:
    def settings(port: int) -> Settings:
        return settings_from(
            port=port,
            store=store_url,
            key_encryption_key=SHARED_STORE_KEK,
            clients=(
                {
                    "client_id": PUBLIC_CLIENT,
                    "auth_method": "none",
                    "scopes": HELD_SCOPES,
                    "grant_types": ("authorization_code", "refresh_token"),
                    "redirect_uris": (REDIRECT_URI,),
                },
            ),
        )

    with running_gateway(settings, wrap=with_protected_resource) as running:
        yield running


# -- what the SDK is given --------------------------------------


def public_client_storage() -> MemoryTokenStorage:
    storage = MemoryTokenStorage()
    storage.client_info = OAuthClientInformationFull(
        client_id=PUBLIC_CLIENT,
        redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]  # pydantic parses the string
        token_endpoint_auth_method="none",
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
    )
    return storage


def sdk_provider(
    gateway: RunningGateway, storage: MemoryTokenStorage, browser: SdkBrowser
) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=f"{gateway.url}/mcp",
        client_metadata=OAuthClientMetadata(
            redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]
            token_endpoint_auth_method="none",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            client_name="mcp SDK (tests)",
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )


@dataclass
class TokenCalls:
    """Every form the SDK posts to ``/token``, recorded by an httpx2 request hook."""

    forms: list[dict[str, str]] = field(default_factory=list)

    async def hook(self, request: httpx2.Request) -> None:
        if request.url.path == "/token":
            form = parse_qs((await request.aread()).decode(), keep_blank_values=True)
            self.forms.append({name: values[0] for name, values in form.items()})

    def grants(self) -> list[str]:
        return [form["grant_type"] for form in self.forms]


def expire_held_access_token(provider: OAuthClientProvider) -> None:
    """What the SDK believes after ``expires_in`` seconds: its access token has run out."""
    provider.context.token_expiry_time = time.time() - 1


async def verify_user_token(gateway: RunningGateway, token: str, *, user: str) -> dict[str, Any]:
    """As any resource server would: the published JWKS, pyjwt, RFC 9068; ``sub`` is the person."""
    claims = await verified_claims(gateway, token, f"{gateway.url}/mcp")
    assert claims["sub"] == user
    assert claims["client_id"] == PUBLIC_CLIENT
    assert claims["scope"] == CHALLENGED_SCOPE
    assert claims["exp"] - claims["iat"] == 300
    return claims


def current_tokens(storage: MemoryTokenStorage) -> OAuthToken:
    assert storage.tokens is not None
    return storage.tokens


# -- the tests ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_sdk_authorization_code_flow_reaches_the_resource_and_refreshes_with_rotated_tokens(
    gateway: RunningGateway, username: str
) -> None:
    person = Person(username, PASSWORD)
    browser = SdkBrowser(person, REDIRECT_URI)
    storage = public_client_storage()
    provider = sdk_provider(gateway, storage, browser)
    calls = TokenCalls()
    try:
        async with httpx2.AsyncClient(
            auth=provider, timeout=15, event_hooks={"request": [calls.hook]}
        ) as http:
            # 1. First call: 401 -> discovery -> the person signs in and consents -> code -> token.
            first = await http.get(f"{gateway.url}/mcp")
            assert first.status_code == 200, first.text
            assert calls.grants() == ["authorization_code"]
            assert len(browser.authorize_urls) == 1

            # What the SDK sent to /authorize, and what came back to it.
            query = query_of(browser.authorize_urls[0])
            assert browser.authorize_urls[0].startswith(gateway.endpoint("/authorize") + "?")
            assert query["client_id"] == PUBLIC_CLIENT
            assert query["redirect_uri"] == REDIRECT_URI
            assert query["code_challenge_method"] == "S256"
            assert query["resource"] == f"{gateway.url}/mcp"
            assert query["scope"] == CHALLENGED_SCOPE
            returned = browser.outcomes[0].params
            assert returned["iss"] == gateway.issuer  # RFC 9207, byte for byte
            assert returned["state"] == query["state"]
            exchange = calls.forms[0]
            assert exchange["client_id"] == PUBLIC_CLIENT and "client_secret" not in exchange
            assert exchange["redirect_uri"] == REDIRECT_URI
            assert exchange["resource"] == f"{gateway.url}/mcp"

            tokens = current_tokens(storage)
            assert tokens.refresh_token and tokens.expires_in == 300 and tokens.scope == CHALLENGED_SCOPE
            claims = await verify_user_token(gateway, tokens.access_token, user=username)
            assert first.json() == claims  # what the resource side saw

            # 2. The token is reused while it is valid: no /token call, no browser.
            assert (await http.get(f"{gateway.url}/mcp")).status_code == 200
            assert len(calls.forms) == 1 and len(browser.authorize_urls) == 1

            # 3. Two expiries in a row: each refresh presents the refresh token the previous
            #    answer rotated in, and the resource accepts the new access token.
            presented: list[str] = []
            for _ in range(2):
                before = current_tokens(storage)
                expire_held_access_token(provider)
                response = await http.get(f"{gateway.url}/mcp")
                assert response.status_code == 200, response.text
                after = current_tokens(storage)
                refresh_form = calls.forms[-1]
                assert refresh_form["grant_type"] == "refresh_token"
                assert refresh_form["refresh_token"] == before.refresh_token
                assert refresh_form["client_id"] == PUBLIC_CLIENT and "client_secret" not in refresh_form
                presented.append(refresh_form["refresh_token"])
                assert after.refresh_token and after.refresh_token != before.refresh_token
                assert after.access_token != before.access_token
                assert after.scope == CHALLENGED_SCOPE
                refreshed = await verify_user_token(gateway, after.access_token, user=username)
                assert response.json() == refreshed
            assert calls.grants() == ["authorization_code", "refresh_token", "refresh_token"]
            assert len(browser.authorize_urls) == 1, "a refresh must not send the person back to the browser"
            assert presented[0] == tokens.refresh_token and presented[1] != presented[0]
    finally:
        await person.aclose()


@pytest.mark.anyio
async def test_sdk_remembered_consent_gives_a_second_client_instance_a_code_without_a_consent_page(
    gateway: RunningGateway, username: str
) -> None:
    """The same person (same browser cookies) authorizing again: signed in, consent remembered."""
    person = Person(username, PASSWORD)
    try:
        seen: list[list[str]] = []
        for _ in range(2):
            storage = public_client_storage()
            browser = SdkBrowser(person, REDIRECT_URI)
            already = len(person.pages)
            async with httpx2.AsyncClient(auth=sdk_provider(gateway, storage, browser), timeout=15) as http:
                response = await http.get(f"{gateway.url}/mcp")
            assert response.status_code == 200, response.text
            assert current_tokens(storage).refresh_token
            seen.append([page.request.url.path for page in person.pages[already:]])
        # First time: sign-in page, sign-in POST, consent page, consent POST (303 to the client).
        assert seen[0] == ["/authorize", "/authorize/login", "/authorize/consent", "/authorize/consent"]
        # Second time: the session and the remembered consent send the code straight back.
        assert seen[1] == ["/authorize"]
        assert person.pages[-1].status_code == 303
    finally:
        await person.aclose()


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda r: r.model_copy(update={"iss": r.iss + "/" if r.iss else None}), "iss mismatch"),
        (lambda r: r.model_copy(update={"iss": "https://evil.example"}), "iss mismatch"),
        (lambda r: r.model_copy(update={"iss": None}), "missing iss"),
    ],
    ids=["trailing-slash", "other-issuer", "iss-dropped"],
)
@pytest.mark.anyio
async def test_sdk_refuses_an_authorization_response_whose_iss_is_not_the_gateways(
    gateway: RunningGateway,
    username: str,
    tamper: Callable[[AuthorizationCodeResult], AuthorizationCodeResult],
    message: str,
) -> None:
    """RFC 9207: the SDK compares ``iss`` with the metadata's issuer as a string, and, since the
    gateway advertises ``authorization_response_iss_parameter_supported``, refuses a response
    without one. It never redeems the code."""
    person = Person(username, PASSWORD)
    browser = SdkBrowser(person, REDIRECT_URI, tamper)
    calls = TokenCalls()
    try:
        provider = sdk_provider(gateway, public_client_storage(), browser)
        async with httpx2.AsyncClient(
            auth=provider, timeout=15, event_hooks={"request": [calls.hook]}
        ) as http:
            with pytest.raises(OAuthFlowError, match=message):
                await http.get(f"{gateway.url}/mcp")
        assert browser.outcomes[0].params["iss"] == gateway.issuer  # the gateway sent the right one
        assert calls.forms == []
    finally:
        await person.aclose()
