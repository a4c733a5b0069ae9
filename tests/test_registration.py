"""Clients that describe themselves: dynamic registration (RFC 7591/7592) and Client ID Metadata
Documents (SPEC-NOTES RG-1, RG-2), one named test per rule, on a running gateway (SQLite file).

Client metadata documents are served by a small HTTP server on a loopback port that the gateway's
fetcher allow-lists (``fetch_allowed_private_hosts``); documents on hostnames go through the
fetcher's resolver seam (:class:`TableResolver`), which maps test names to 127.0.0.1 *without* an
allow-list entry, so the SSRF rules are proven on the real fetcher: a refused fetch opens no
connection (a loopback :class:`Listener` counts accepted connections). The ``mcp`` SDK's
``OAuthClientProvider`` then registers by DCR, and separately uses a CIMD URL served over TLS
(throw-away CA), and completes the authorization code flow headlessly with :class:`Person`.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import OAuthClientMetadata
from pydantic import AnyUrl

from examples.agent import MemoryTokenStorage
from gateway.clock import FrozenClock
from gateway.composition import Gateway, build_gateway
from gateway.config import Settings
from gateway.fetching import fetcher as fetch_module
from gateway.fetching.fetcher import DocumentFetcher, FetchPolicy
from gateway.oauth.clients.model import hash_secret
from gateway.store.factory import open_store
from tests.support.agents import JWT_BEARER, AgentKey
from tests.support.authorization_code import PublicClient, new_verifier
from tests.support.browser import Outcome, Person
from tests.support.fetch_probes import Listener, TableResolver
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_clients import http_client
from tests.support.http_server import Documents, LoopbackServer, serving_documents
from tests.support.oauth_errors import assert_error_page, error_of
from tests.support.protected_resource import CHALLENGED_SCOPE, with_protected_resource
from tests.support.sdk_clients import SdkBrowser
from tests.support.tls import ThrowAwayCA
from tests.support.tokens import claims_of
from tests.support.users import signed_up

pytestmark = pytest.mark.anyio

SCOPES = ("tools:read", "tools:call")
DESCRIPTIONS = {"tools:read": "See which tools exist", "tools:call": "Run tools on your behalf"}
CB = "http://127.0.0.1:9999/cb"
PRIVATE_CIMD_HOST = "cimd.internal.test"
PRIVATE_JWKS_HOST = "jwks.internal.test"
TLS_CIMD_HOST = "client.test"


# -- the gateway -------------------------------------------------------------------------------------


@dataclass
class World:
    gateway: RunningGateway
    documents: LoopbackServer[Documents]
    listener: Listener
    resolver: TableResolver

    @property
    def store_url(self) -> str:
        return self.gateway.settings.store


def build_with(fetcher: DocumentFetcher, clock: Any = None) -> Callable[[Settings], Gateway]:
    def build(settings: Settings) -> Gateway:
        return build_gateway(settings, open_store(settings.store), clock=clock, fetcher=fetcher)

    return build


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    listener = Listener()
    resolver = TableResolver({PRIVATE_CIMD_HOST: ["127.0.0.1"], PRIVATE_JWKS_HOST: ["127.0.0.1"]})
    store = f"sqlite:///{tmp_path_factory.mktemp('registration') / 'gw.sqlite3'}"
    with serving_documents() as documents:
        allowed = (f"127.0.0.1:{documents.port}",)
        fetcher = DocumentFetcher(FetchPolicy(allowed_private_hosts=frozenset(allowed)), resolver=resolver)

        def settings(port: int) -> Settings:
            return Settings(
                port=port,
                store=store,
                scope_descriptions=DESCRIPTIONS,
                fetch_allowed_private_hosts=allowed,
                dcr_rate_limit_per_minute=100_000,
            )

        with running_gateway(settings, build=build_with(fetcher), wrap=with_protected_resource) as gateway:
            yield World(gateway, documents, listener, resolver)
    listener.close()


@pytest.fixture
def base_url(world: World) -> str:
    """``http`` speaks to this module's gateway."""
    return world.gateway.url


@pytest.fixture
async def person(world: World) -> AsyncIterator[Person]:
    async with signed_up(world.store_url) as signed_in:
        yield signed_in


# -- the client's side ---------------------------------------------------------------------------------


def authorize_url(
    gw: RunningGateway, client_id: str, redirect_uri: str = CB, **params: str
) -> tuple[str, str]:
    """``/authorize`` for ``client_id`` with a fresh verifier; (the URL, the verifier)."""
    verifier = new_verifier()
    client = PublicClient(client_id, redirect_uri, " ".join(SCOPES), "st-1")
    return client.authorize_url(gw, verifier, **params), verifier


async def register(http: httpx2.AsyncClient, **metadata: Any) -> httpx2.Response:
    body = {"redirect_uris": [CB], "token_endpoint_auth_method": "none", **metadata}
    return await http.post("/register", json={k: v for k, v in body.items() if v is not None})


async def registered(http: httpx2.AsyncClient, **metadata: Any) -> dict[str, Any]:
    response = await register(http, **metadata)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def relative(uri: str) -> str:
    return urlsplit(uri).path


async def records(store_url: str, collection: str) -> dict[str, str]:
    store = open_store(store_url)
    try:
        return await store.list_records(collection)
    finally:
        await store.close()


def cimd_document(client_id: str | None, **members: Any) -> dict[str, Any]:
    document = {
        "client_id": client_id,
        "client_name": "Notes Agent",
        "redirect_uris": [CB],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **members,
    }
    return {k: v for k, v in document.items() if v is not None}


def publish(world: World, document_factory: Callable[[str], dict[str, Any]], **headers: str) -> str:
    """Serve a new document at a fresh path; returns its URL (= the client id)."""
    path = f"/clients/{secrets.token_hex(6)}.json"
    url = world.documents.url(path)
    world.documents.state.publish(path, document_factory(url), **headers)
    return url


async def run_flow(gw: RunningGateway, person: Person, client_id: str) -> tuple[Outcome, str]:
    url, verifier = authorize_url(gw, client_id)
    outcome = await person.authorize(url)
    assert outcome.code, (outcome.status, outcome.location, outcome.page[:500])
    assert outcome.params["iss"] == gw.issuer and outcome.params["state"] == "st-1"
    return outcome, verifier


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


async def test_dcr_scope_is_narrowed_to_the_scopes_registered_clients_may_hold(
    http: httpx2.AsyncClient,
) -> None:
    assert (await registered(http, scope="tools:read admin:everything"))["scope"] == "tools:read"
    assert (await registered(http))["scope"] == " ".join(SCOPES)
    assert error_of(await register(http, scope="admin:everything")) == "invalid_client_metadata"


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


async def test_registration_read_update_delete_need_the_registration_access_token(
    http: httpx2.AsyncClient,
) -> None:
    mine = await registered(http, client_name="Mine")
    theirs = await registered(http, client_name="Theirs")
    uri, token = relative(mine["registration_client_uri"]), mine["registration_access_token"]
    for method in ("GET", "PUT", "DELETE"):
        missing = await http.request(method, uri, json={"client_id": mine["client_id"]})
        assert error_of(missing, 401) == "invalid_token"
        assert missing.headers["www-authenticate"] == "Bearer"
        for wrong in (theirs["registration_access_token"], token[:-1], "x"):
            refused = await http.request(
                method, uri, headers=bearer(wrong), json={"client_id": mine["client_id"]}
            )
            assert error_of(refused, 401) == "invalid_token"
            assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        basic = await http.request(method, uri, headers={"Authorization": f"Basic {token}"})
        assert error_of(basic, 401) == "invalid_token"
    unknown = await http.get("/register/no-such-client", headers=bearer(token))
    assert error_of(unknown, 401) == "invalid_token"

    read = await http.get(uri, headers=bearer(token))
    assert read.status_code == 200 and read.headers["cache-control"] == "no-store"
    assert read.json()["client_name"] == "Mine" and read.json()["client_id"] == mine["client_id"]

    update = {**read.json(), "client_name": "Mine, renamed", "redirect_uris": ["https://app.example/cb"]}
    updated = await http.put(uri, headers=bearer(token), json=update)
    assert updated.status_code == 200, updated.text
    assert updated.json()["client_name"] == "Mine, renamed"
    assert updated.json()["redirect_uris"] == ["https://app.example/cb"]
    assert (await http.get(uri, headers=bearer(token))).json()["client_name"] == "Mine, renamed"

    deleted = await http.delete(uri, headers=bearer(token))
    assert deleted.status_code == 204
    assert error_of(await http.get(uri, headers=bearer(token)), 401) == "invalid_token"
    gone = await http.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": mine["client_id"]}
    )
    assert error_of(gone, 401) == "invalid_client"
    assert (
        await http.get(
            uri.replace(mine["client_id"], theirs["client_id"]),
            headers=bearer(theirs["registration_access_token"]),
        )
    ).status_code == 200


async def test_registration_update_is_validated_like_a_registration(http: httpx2.AsyncClient) -> None:
    mine = await registered(http, token_endpoint_auth_method="client_secret_basic")
    uri, token = relative(mine["registration_client_uri"]), mine["registration_access_token"]
    current = (await http.get(uri, headers=bearer(token))).json()
    bad_redirect = await http.put(
        uri, headers=bearer(token), json={**current, "redirect_uris": ["javascript:x"]}
    )
    assert error_of(bad_redirect) == "invalid_redirect_uri"
    other_id = await http.put(uri, headers=bearer(token), json={**current, "client_id": "someone-else"})
    assert error_of(other_id) == "invalid_client_metadata"
    chosen_secret = await http.put(
        uri, headers=bearer(token), json={**current, "client_secret": "my-own-secret"}
    )
    assert error_of(chosen_secret) == "invalid_client_metadata"
    grants = await http.put(
        uri, headers=bearer(token), json={**current, "grant_types": ["client_credentials"]}
    )
    assert error_of(grants) == "invalid_client_metadata"
    same_secret = await http.put(
        uri, headers=bearer(token), json={**current, "client_secret": mine["client_secret"]}
    )
    assert same_secret.status_code == 200 and "client_secret" not in same_secret.json()
    public = await http.put(
        uri, headers=bearer(token), json={**current, "token_endpoint_auth_method": "none"}
    )
    assert public.status_code == 200 and "client_secret_expires_at" not in public.json()
    back = await http.put(
        uri, headers=bearer(token), json={**current, "token_endpoint_auth_method": "client_secret_post"}
    )
    assert back.status_code == 200 and len(back.json()["client_secret"]) >= 43  # a new secret, shown once


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
    assert claims["aud"] == world.gateway.settings.mcp_resource and "refresh_token" in token.json()


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
        return Settings(
            port=port,
            store=store,
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
        return Settings(
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
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "client_id": url,
            "redirect_uri": CB,
            "code_verifier": "v" * 43,
        },
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
        ({"scope": "admin:everything"}, "none of the requested scopes"),
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
    response = await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "redirect_uri": CB,
            "code_verifier": "v" * 43,
            "client_assertion_type": JWT_BEARER,
            "client_assertion": key.assertion(url, world.gateway.issuer),
        },
    )
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
    response = await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "redirect_uri": CB,
            "code_verifier": "v" * 43,
            "client_assertion_type": JWT_BEARER,
            "client_assertion": key.assertion(client["client_id"], world.gateway.issuer),
        },
    )
    assert error_of(response, 401) == "invalid_client"
    assert "not allowed" in response.json()["error_description"]
    assert world.listener.accepted() == 0


async def test_a_cimd_private_key_jwt_client_authenticates_with_its_published_keys(
    world: World, http: httpx2.AsyncClient
) -> None:
    key = AgentKey()
    url = publish(
        world, lambda url: cimd_document(url, token_endpoint_auth_method="private_key_jwt", jwks=key.jwks)
    )
    form = {
        "grant_type": "authorization_code",
        "code": "x",
        "redirect_uri": CB,
        "code_verifier": "v" * 43,
        "client_assertion_type": JWT_BEARER,
    }
    signed = await http.post(
        "/token", data={**form, "client_assertion": key.assertion(url, world.gateway.issuer)}
    )
    assert error_of(signed) == "invalid_grant"  # authenticated; only the code is wrong
    forged = await http.post(
        "/token", data={**form, "client_assertion": AgentKey().assertion(url, world.gateway.issuer)}
    )
    assert error_of(forged, 401) == "invalid_client"


# == real clients: the mcp SDK's OAuthClientProvider ======================================================


SDK_REDIRECT = "http://127.0.0.1:9/callback"


async def sdk_get_mcp(
    gateway: RunningGateway, provider: OAuthClientProvider
) -> tuple[httpx2.Response, list[str]]:
    paths: list[str] = []

    async def record(request: httpx2.Request) -> None:
        paths.append(f"{request.method} {request.url.path}")

    async with httpx2.AsyncClient(auth=provider, timeout=20, event_hooks={"request": [record]}) as http:
        return await http.get(f"{gateway.url}/mcp"), paths


@pytest.mark.parametrize("auth_method", [None, "client_secret_post", "none"])
async def test_mcp_sdk_registers_by_dcr_and_completes_the_authorization_code_flow(
    world: World, person: Person, auth_method: str | None
) -> None:
    browser = SdkBrowser(person)
    storage = MemoryTokenStorage()
    provider = OAuthClientProvider(
        server_url=f"{world.gateway.url}/mcp",
        client_metadata=OAuthClientMetadata(
            redirect_uris=[AnyUrl(SDK_REDIRECT)],
            client_name="SDK agent",
            token_endpoint_auth_method=auth_method,  # type: ignore[arg-type]
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )
    response, paths = await sdk_get_mcp(world.gateway, provider)
    assert response.status_code == 200, response.text
    assert "POST /register" in paths
    info = storage.client_info
    assert (
        info is not None
        and info.client_id
        and info.token_endpoint_auth_method == (auth_method or "client_secret_basic")
    )
    assert (info.client_secret is None) == (auth_method == "none")
    claims = response.json()
    assert claims["client_id"] == info.client_id and claims["sub"] == person.username
    assert claims["scope"] == CHALLENGED_SCOPE
    assert storage.tokens is not None and storage.tokens.refresh_token


async def test_mcp_sdk_uses_a_client_id_metadata_document_and_completes_the_flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CIMD the way the SDK does it: an https client id, no registration request at all."""
    authority = ThrowAwayCA(tmp_path)
    monkeypatch.setattr(fetch_module, "_default_ssl_context", lambda: authority.client)
    store = f"sqlite:///{tmp_path / 'gw.sqlite3'}"
    with serving_documents(authority.server_for(TLS_CIMD_HOST)) as documents:
        url = documents.url("/clients/sdk-agent.json", host=TLS_CIMD_HOST, scheme="https")
        documents.state.publish(
            "/clients/sdk-agent.json",
            cimd_document(url, client_name="SDK CIMD agent", redirect_uris=[SDK_REDIRECT]),
            **{"Cache-Control": "max-age=300"},
        )
        allowed = (f"{TLS_CIMD_HOST}:{documents.port}",)
        fetcher = DocumentFetcher(
            FetchPolicy(allowed_private_hosts=frozenset(allowed)),
            resolver=TableResolver({TLS_CIMD_HOST: ["127.0.0.1"]}),
        )

        def settings(port: int) -> Settings:
            return Settings(
                port=port, store=store, scope_descriptions=DESCRIPTIONS, fetch_allowed_private_hosts=allowed
            )

        with running_gateway(settings, build=build_with(fetcher), wrap=with_protected_resource) as gateway:
            async with signed_up(store) as person:
                browser = SdkBrowser(person)
                storage = MemoryTokenStorage()
                provider = OAuthClientProvider(
                    server_url=f"{gateway.url}/mcp",
                    client_metadata=OAuthClientMetadata(redirect_uris=[AnyUrl(SDK_REDIRECT)]),
                    storage=storage,
                    redirect_handler=browser.redirect_handler,
                    callback_handler=browser.callback_handler,
                    client_metadata_url=url,
                )
                response, paths = await sdk_get_mcp(gateway, provider)
        assert response.status_code == 200, response.text
        assert not any(path.endswith("/register") for path in paths)
        assert storage.client_info is not None and storage.client_info.client_id == url
        claims = response.json()
        assert claims["client_id"] == url and claims["sub"] == person.username
        assert "client_id=" + urlencode({"": url})[1:] in browser.authorize_urls[0]
        consent = next(page.text for page in person.pages if "Allow SDK CIMD agent" in page.text)
        assert "127.0.0.1:9" in consent
        assert documents.state.count("/clients/sdk-agent.json") == 1
