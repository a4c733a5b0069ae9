"""Dynamic client registration (RFC 7591, RG-1), one named test per rule, on a running
gateway (SQLite file): what a client may register, what it is answered, what is refused and why,
the rate limit, and the settings that turn registration off or allow ``client_credentials``.

The gateway is :mod:`tests.support.client_registration`'s; two tests run gateways of their own
(a strict one on a clock the test moves, one with registration and metadata documents off).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest

from gateway.clock import FrozenClock
from gateway.config import settings_from
from gateway.fetching.fetcher import DocumentFetcher, FetchPolicy
from gateway.oauth.authorize.pages import page_headers
from gateway.oauth.clients.model import hash_secret
from gateway.settings import Settings
from tests.support.agents import AgentKey
from tests.support.browser import Person
from tests.support.client_registration import (
    CB,
    SCOPES,
    World,
    authorize_url,
    bearer,
    build_with,
    cimd_document,
    publish,
    records,
    register,
    registered,
    relative,
    run_flow,
)
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_clients import http_client
from tests.support.kek import SHARED_STORE_KEK
from tests.support.oauth_errors import assert_error_page, error_of
from tests.support.tokens import claims_of

pytest_plugins = ["tests.support.client_registration"]
pytestmark = pytest.mark.anyio


@pytest.fixture
def base_url(world: World) -> str:
    """``http`` speaks to the module's registration gateway."""
    return world.gateway.url


# == RG-1: dynamic client registration ====================================================================


async def test_dcr_registers_a_client_and_answers_with_its_credentials(
    world: World, http: httpx2.AsyncClient
) -> None:
    response = await register(
        http, client_name="Notes Agent", token_endpoint_auth_method="client_secret_basic"
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["client_name"] == "Notes Agent"
    assert body["redirect_uris"] == [CB]
    assert body["grant_types"] == ["authorization_code"]
    assert body["response_types"] == ["code"]
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["scope"] == " ".join(SCOPES)
    assert isinstance(body["client_id_issued_at"], int) and body["client_id_issued_at"] > 0
    assert len(body["client_secret"]) >= 43 and body["client_secret_expires_at"] == 0
    assert len(body["registration_access_token"]) >= 43
    assert body["registration_client_uri"] == world.gateway.endpoint(f"/register/{body['client_id']}")


async def test_dcr_the_client_cannot_choose_its_id(http: httpx2.AsyncClient) -> None:
    chosen = "i-chose-this-id"
    body = await registered(http, client_id=chosen, client_secret="i-chose-this-secret-too-0123456789")
    assert body["client_id"] != chosen
    assert "client_secret" not in body  # a public client; and a chosen secret is never taken
    assert (
        await http.get(f"/register/{chosen}", headers=bearer(body["registration_access_token"]))
    ).status_code == 401
    other = await registered(http, client_id=chosen)
    assert other["client_id"] not in (chosen, body["client_id"])


async def test_dcr_a_secret_is_returned_once_and_only_its_hash_is_stored(
    world: World, http: httpx2.AsyncClient
) -> None:
    body = await registered(http, token_endpoint_auth_method="client_secret_post")
    client_id, secret, token = body["client_id"], body["client_secret"], body["registration_access_token"]
    stored = (await records(world.store_url, "clients"))[client_id]
    assert secret not in stored and hash_secret(secret) in stored
    registration = (await records(world.store_url, "client_registrations"))[client_id]
    assert token not in registration and hash_secret(token) in registration
    read = await http.get(relative(body["registration_client_uri"]), headers=bearer(token))
    assert read.status_code == 200, read.text
    assert "client_secret" not in read.json() and "registration_access_token" not in read.json()
    # the secret authenticates the client: a bad code is then the only problem (invalid_grant) ...
    form = {"grant_type": "authorization_code", "code": "nope", "redirect_uri": CB, "client_id": client_id}
    assert error_of(await http.post("/token", data={**form, "client_secret": secret})) == "invalid_grant"
    # ... while a wrong secret is invalid_client
    wrong = await http.post("/token", data={**form, "client_secret": secret[:-2] + "xx"})
    assert error_of(wrong, 401) == "invalid_client"


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://app.example/cb", "http://10.0.0.7/cb", "http://127.0.0.1.nip.io/cb", "HTTP://app.example/cb"],
)
async def test_dcr_refuses_a_non_loopback_http_redirect_uri(
    http: httpx2.AsyncClient, redirect_uri: str
) -> None:
    response = await register(http, redirect_uris=[CB, redirect_uri])
    assert error_of(response) == "invalid_redirect_uri"
    assert "https" in response.json()["error_description"]


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "javascript:alert(document.cookie)",
        "JavaScript://app.example/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "https://app.example/cb#fragment",
        "https://user:pw@app.example/cb",
        "/relative/cb",
        "",
    ],
)
async def test_dcr_refuses_javascript_data_and_other_unsafe_redirect_uris(
    http: httpx2.AsyncClient, redirect_uri: str
) -> None:
    assert error_of(await register(http, redirect_uris=[redirect_uri])) == "invalid_redirect_uri"


async def test_dcr_accepts_https_loopback_http_and_reverse_domain_redirect_uris(
    http: httpx2.AsyncClient,
) -> None:
    uris = ["https://app.example/cb", "http://127.0.0.1:7000/cb", "http://[::1]/cb", "com.example.app:/cb"]
    assert (await registered(http, redirect_uris=uris))["redirect_uris"] == uris


async def test_dcr_a_code_flow_client_needs_redirect_uris(http: httpx2.AsyncClient) -> None:
    assert error_of(await register(http, redirect_uris=None)) == "invalid_redirect_uri"
    assert error_of(await register(http, redirect_uris="https://app.example/cb")) == "invalid_redirect_uri"


@pytest.mark.parametrize(
    "grant_types",
    [
        ["client_credentials"],
        ["authorization_code", "client_credentials"],
        ["implicit"],
        ["password"],
        ["urn:ietf:params:oauth:grant-type:token-exchange"],
        ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
        ["refresh_token"],
        [],
        "authorization_code",
    ],
)
async def test_dcr_refuses_grant_types_outside_the_allowed_set(
    http: httpx2.AsyncClient, grant_types: Any
) -> None:
    response = await register(http, token_endpoint_auth_method="client_secret_basic", grant_types=grant_types)
    assert error_of(response) == "invalid_client_metadata"


@pytest.mark.parametrize("response_types", [["token"], ["code", "id_token"], ["code token"], []])
async def test_dcr_refuses_response_types_other_than_code(
    http: httpx2.AsyncClient, response_types: Any
) -> None:
    assert error_of(await register(http, response_types=response_types)) == "invalid_client_metadata"


@pytest.mark.parametrize(
    "method", ["client_secret_jwt", "tls_client_auth", "self_signed_tls_client_auth", "", "NONE", 1]
)
async def test_dcr_refuses_token_endpoint_auth_methods_outside_the_allowed_set(
    http: httpx2.AsyncClient, method: Any
) -> None:
    assert error_of(await register(http, token_endpoint_auth_method=method)) == "invalid_client_metadata"


async def test_dcr_private_key_jwt_needs_exactly_one_of_jwks_and_jwks_uri(http: httpx2.AsyncClient) -> None:
    key = AgentKey()
    jwt_client = {"token_endpoint_auth_method": "private_key_jwt"}
    assert error_of(await register(http, **jwt_client)) == "invalid_client_metadata"
    both = await register(http, **jwt_client, jwks=key.jwks, jwks_uri="https://keys.example/jwks")
    assert error_of(both) == "invalid_client_metadata"
    private = {"keys": [{**key.public_jwk, "d": "c2VjcmV0"}]}
    assert error_of(await register(http, **jwt_client, jwks=private)) == "invalid_client_metadata"
    plain = await register(http, **jwt_client, jwks_uri="http://keys.example/jwks")
    assert error_of(plain) == "invalid_client_metadata"
    assert (await registered(http, **jwt_client, jwks=key.jwks))["jwks"] == key.jwks
    assert "client_secret" not in await registered(http, **jwt_client, jwks_uri="https://keys.example/jwks")


async def test_dcr_client_name_and_informational_members_are_capped_and_checked(
    http: httpx2.AsyncClient,
) -> None:
    assert error_of(await register(http, client_name="n" * 101)) == "invalid_client_metadata"
    assert error_of(await register(http, client_name="bad\nname")) == "invalid_client_metadata"
    assert error_of(await register(http, client_name=7)) == "invalid_client_metadata"
    assert error_of(await register(http, logo_uri="javascript:alert(1)")) == "invalid_client_metadata"
    assert error_of(await register(http, client_uri="http://app.example/")) == "invalid_client_metadata"
    assert error_of(await register(http, contacts="ops@app.example")) == "invalid_client_metadata"
    body = await registered(
        http, client_name="n" * 100, client_uri="https://app.example/", contacts=["ops@app.example"], extra=1
    )
    assert body["client_name"] == "n" * 100 and body["contacts"] == ["ops@app.example"]
    assert "extra" not in body  # members the gateway does not understand are ignored (RFC 7591 §2)


async def test_rg1_dcr_scope_is_narrowed_to_the_scopes_registered_clients_may_hold(
    http: httpx2.AsyncClient,
) -> None:
    assert (await registered(http, scope="tools:read admin:everything"))["scope"] == "tools:read"
    assert (await registered(http, scope="tools:read:weather"))["scope"] == "tools:read:weather"
    assert (await registered(http, scope="tools"))["scope"] == " ".join(SCOPES), "never a wider one"
    assert (await registered(http))["scope"] == " ".join(SCOPES)


async def test_rg1_requested_scopes_the_gateway_does_not_grant_are_replaced_by_its_defaults_not_refused(
    http: httpx2.AsyncClient,
) -> None:
    """mcp-remote registers with ``openid email profile``: it gets the defaults (RFC 7591 §3.2.1)."""
    assert (await registered(http, scope="openid email profile"))["scope"] == " ".join(SCOPES)
    assert (await registered(http, scope="admin:everything"))["scope"] == " ".join(SCOPES)


@pytest.mark.parametrize(
    ("content", "content_type", "error"),
    [
        (b"{not json", "application/json", "invalid_client_metadata"),
        (b"[1, 2]", "application/json", "invalid_client_metadata"),
        (
            b'{"redirect_uris": ["https://a.example/cb"], "redirect_uris": ["https://b.example/cb"]}',
            "application/json",
            "invalid_client_metadata",
        ),
        (b'{"client_name": NaN}', "application/json", "invalid_client_metadata"),
        (b"redirect_uris=https://a.example/cb", "application/x-www-form-urlencoded", "invalid_request"),
        (b'{"client_name": "' + b"a" * 20_000 + b'"}', "application/json", "invalid_request"),
    ],
)
async def test_dcr_the_request_body_is_one_size_capped_strict_json_object(
    http: httpx2.AsyncClient, content: bytes, content_type: str, error: str
) -> None:
    response = await http.post("/register", content=content, headers={"Content-Type": content_type})
    assert error_of(response) == error


async def test_a_dcr_public_client_completes_authorize_and_token(
    world: World, http: httpx2.AsyncClient, person: Person
) -> None:
    client = await registered(
        http, client_name="Desk Agent", grant_types=["authorization_code", "refresh_token"]
    )
    outcome, verifier = await run_flow(world.gateway, person, client["client_id"])
    consent = next(page.text for page in person.pages if "Allow Desk Agent" in page.text)
    assert "127.0.0.1:9999" in consent and client["client_id"] in consent  # CO-8: names client and host
    form = {
        "grant_type": "authorization_code",
        "code": outcome.code or "",
        "redirect_uri": CB,
        "client_id": client["client_id"],
        "code_verifier": verifier,
    }
    token = await http.post("/token", data=form)
    assert token.status_code == 200, token.text
    claims = claims_of(token.json()["access_token"])
    assert claims["client_id"] == client["client_id"] and claims["sub"] == person.username
    assert claims["aud"] == world.gateway.settings.mcp.resource and "refresh_token" in token.json()


async def test_the_metadata_advertises_registration_and_client_id_metadata_documents(
    world: World, http: httpx2.AsyncClient
) -> None:
    metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["registration_endpoint"] == world.gateway.endpoint("/register")
    assert metadata["client_id_metadata_document_supported"] is True


# -- gateways with other registration settings ------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningGateway, FrozenClock]]:
    """Three registrations a minute, client_credentials allowed, on a clock the test moves."""
    clock = FrozenClock(1_800_000_010.0)
    store = f"sqlite:///{tmp_path_factory.mktemp('strict') / 'gw.sqlite3'}"

    def settings(port: int) -> Settings:
        return settings_from(
            port=port,
            store=store,
            key_encryption_key=SHARED_STORE_KEK,
            dcr_allowed_scopes=("tools:read",),
            dcr_rate_limit_per_minute=3,
            dcr_allow_client_credentials=True,
        )

    fetcher = DocumentFetcher(FetchPolicy())
    with running_gateway(settings, build=build_with(fetcher, clock)) as gateway:
        yield gateway, clock


async def test_dcr_registrations_are_rate_limited_per_address_with_429_and_retry_after(
    strict_gateway: tuple[RunningGateway, FrozenClock],
) -> None:
    gateway, clock = strict_gateway
    async with http_client(gateway.url) as http:
        for _ in range(3):
            await registered(http)
        limited = await register(http)
        assert error_of(limited, 429) == "temporarily_unavailable"
        assert limited.headers["retry-after"] == "50"
        assert error_of(
            await http.post("/register", content=b"junk", headers={"Content-Type": "application/json"}), 429
        )
        clock.advance(50)  # the next window
        await registered(http)


async def test_dcr_client_credentials_only_when_the_setting_allows_it(
    strict_gateway: tuple[RunningGateway, FrozenClock], http: httpx2.AsyncClient
) -> None:
    # the default gateway refuses it (test above); this one allows it, for confidential clients only
    gateway, clock = strict_gateway
    clock.advance(60)
    async with http_client(gateway.url) as strict:
        machine = await registered(
            strict,
            redirect_uris=None,
            grant_types=["client_credentials"],
            token_endpoint_auth_method="client_secret_basic",
        )
        assert machine["scope"] == "tools:read" and machine["response_types"] == []
        public = await register(strict, redirect_uris=None, grant_types=["client_credentials"])
        assert error_of(public) == "invalid_client_metadata"
        token = await strict.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=(machine["client_id"], machine["client_secret"]),
        )
        assert token.status_code == 200, token.text
        assert claims_of(token.json()["access_token"])["scope"] == "tools:read"
    assert (
        error_of(
            await register(
                http,
                grant_types=["client_credentials"],
                redirect_uris=None,
                token_endpoint_auth_method="client_secret_basic",
            )
        )
        == "invalid_client_metadata"
    )


async def test_with_dcr_and_cimd_off_there_is_no_register_endpoint_and_url_ids_are_unknown(
    tmp_path: Path, world: World
) -> None:
    url = publish(world, cimd_document)

    def settings(port: int) -> Settings:
        return settings_from(
            port=port,
            store=f"sqlite:///{tmp_path / 'off.sqlite3'}",
            dcr_enabled=False,
            cimd_enabled=False,
            fetch_allowed_private_hosts=(f"127.0.0.1:{world.documents.port}",),
        )

    with running_gateway(settings) as gateway:
        async with http_client(gateway.url) as http:
            metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
            assert "registration_endpoint" not in metadata
            assert "client_id_metadata_document_supported" not in metadata
            assert (await http.post("/register", json={"redirect_uris": [CB]})).status_code in (404, 405)
            page = await http.get(authorize_url(gateway, url)[0])
            assert_error_page(page, "Unknown client")
    assert world.documents.state.count(urlsplit(url).path) == 0


async def test_co4_an_error_for_a_self_registered_client_is_a_page_never_a_redirect(
    world: World, http: httpx2.AsyncClient
) -> None:
    """RFC 9700 §4.11.2: nobody verified a registered client's redirect URI, so a request refused
    before the person took part is not sent there (the gateway is no open redirector)."""
    client = await registered(http, redirect_uris=["https://anyone.example/cb"])
    url, _ = authorize_url(
        world.gateway, client["client_id"], "https://anyone.example/cb", response_type="token"
    )
    page = await http.get(url)
    assert "location" not in page.headers
    assert_error_page(page, "not valid", "response_type=code")


async def test_rg1_describing_a_scope_for_the_consent_page_does_not_let_registrations_hold_it(
    tmp_path: Path,
) -> None:
    def settings(port: int) -> Settings:
        return settings_from(
            port=port,
            store=f"sqlite:///{tmp_path / 'described.sqlite3'}",
            scope_descriptions={"tools:read": "Read the tools"},
        )

    with running_gateway(settings) as gateway:
        async with http_client(gateway.url) as http:
            response = await register(http, redirect_uris=[CB], scope="tools:read")
            assert error_of(response) == "invalid_client_metadata"


async def test_as1_the_metadata_claims_no_openid_provider_features_it_lacks(http: httpx2.AsyncClient) -> None:
    """No ID token is ever issued, so no ID-token algorithm or subject type is advertised."""
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        metadata = (await http.get(path)).json()
        assert "id_token_signing_alg_values_supported" not in metadata
        assert "subject_types_supported" not in metadata


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example frame-ancestors */cb",
        "https://evil.example;frame-ancestors%20*/cb",
        "https://evil.example<script>/cb",
        'https://evil"example/cb',
        "https://under_score.example/cb",
    ],
)
async def test_co4_a_redirect_uri_whose_host_is_no_dns_name_or_address_is_refused(
    http: httpx2.AsyncClient, uri: str
) -> None:
    assert error_of(await register(http, redirect_uris=[uri])) == "invalid_redirect_uri"


@pytest.mark.parametrize("member", ["client_uri", "logo_uri", "jwks_uri"])
async def test_rg1_an_informational_uri_whose_host_is_no_dns_name_is_refused(
    http: httpx2.AsyncClient, member: str
) -> None:
    response = await register(http, redirect_uris=[CB], **{member: "https://a.example;b/x"})
    assert error_of(response) == "invalid_client_metadata"


def test_co7_the_page_policy_takes_only_plain_origins_as_form_targets() -> None:
    """Even an origin that slipped past every check cannot add a directive to the policy."""
    policy = page_headers(["https://ok.example", "https://x.example; frame-ancestors *", "http://[::1]:9"])[
        "Content-Security-Policy"
    ]
    assert "form-action 'self' https://ok.example http://[::1]:9;" in policy
    assert policy.count("frame-ancestors") == 1 and "frame-ancestors 'none'" in policy
