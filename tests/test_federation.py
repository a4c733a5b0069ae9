"""Federated sign-in at an upstream OpenID provider, against a real one: panva's ``oidc-provider``.

The provider (``tests/support/idp/provider.mjs``) runs under Node 22 on a free port with one client, the
gateway, and signs ID tokens with a fresh ES256 key. A headless person opens ``/authorize``, presses
"Sign in with Test IdP", passes the provider's own sign-in and consent forms (its devInteractions),
comes back to the gateway's callback, consents, and the client redeems the code: the access token's
``sub`` is the provider's subject, namespaced ``oidc:``.

The ID-token rules (OIDC Core §3.1.3.7) are also checked one by one without the provider, with
tokens signed here and the provider's metadata given statically.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import expect

from gateway import paths
from gateway.clock import Clock, FrozenClock, SystemClock
from gateway.config import ConfigError, load_settings, settings_from
from gateway.oauth.authorize.oidc_provider import (
    RETRY_DISCOVERY_AFTER,
    FederationConfig,
    FederationError,
    IdTokenRejected,
    OidcProvider,
)
from gateway.oauth.authorize.users import COLLECTION as USERS
from gateway.oauth.authorize.users import User, UserDirectory, hash_password
from gateway.settings import Settings
from gateway.store.factory import open_store
from tests.support.authorization_code import PublicClient, new_verifier, query_of
from tests.support.browser import form_fields
from tests.support.chromium import chromium_browser
from tests.support.gateway_server import RunningGateway
from tests.support.http_clients import http_client
from tests.support.oidc_idp import (
    IDP_CLIENT,
    RunningIdp,
    gateway_beside_idp,
    through_the_provider,
)
from tests.support.tokens import claims_of

pytestmark = pytest.mark.anyio

DESK = "desk"
CB = "http://127.0.0.1:9999/cb"
SCOPES = ("tools:read", "tools:call")
DESK_CLIENT = PublicClient(DESK, CB, " ".join(SCOPES), "client-state")
IDP_SECRET = secrets.token_urlsafe(24)
ACCOUNTS = {
    "alice": {"email": "alice@example.com", "email_verified": True, "preferred_username": "alice"},
    "bob": {"email": "bob@example.com", "preferred_username": "bob"},
    "erin": {"email": "erin@example.com", "preferred_username": "erin"},
}
_FORMS = re.compile(r'<form method="post" action="([^"]+)">(.*?)</form>', re.S)


# -- the gateway and the provider ----------------------------------------------------------------


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningGateway, RunningIdp]]:
    store = f"sqlite:///{tmp_path_factory.mktemp('federation') / 'gw.sqlite3'}"

    def settings(port: int, idp: RunningIdp, secret: str) -> Settings:
        return settings_from(
            port=port,
            store=store,
            scope_descriptions={"tools:read": "Read tools", "tools:call": "Run tools"},
            clients=(
                {
                    "client_id": DESK,
                    "name": "Desk Assistant",
                    "auth_method": "none",
                    "scopes": SCOPES,
                    "grant_types": ("authorization_code", "refresh_token"),
                    "redirect_uris": (CB,),
                },
            ),
            oidc_issuer=idp.issuer,
            oidc_client_id=IDP_CLIENT,
            oidc_client_secret=secret,
            oidc_scopes=("openid", "email"),
            oidc_provider_name="Test IdP",
        )

    with gateway_beside_idp(ACCOUNTS, settings) as deployment:
        yield deployment


@pytest.fixture
async def browser() -> AsyncIterator[httpx2.AsyncClient]:
    """The person's browser, at the gateway and at the provider: one cookie jar, redirects read."""
    async with http_client() as client:
        yield client


# -- a person at the keyboard, at the gateway and at the provider ---------------------------------


async def press_federated_button(browser: httpx2.AsyncClient, url: str) -> tuple[httpx2.Response, str]:
    """Open the sign-in page and press "Sign in with …"; (the sign-in page, the provider's URL)."""
    page = await browser.get(url)
    assert page.status_code == 200, page.text[:500]
    forms = {unescape(action): body for action, body in _FORMS.findall(page.text)}
    assert paths.FEDERATED_START in forms, page.text
    hidden = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', forms[paths.FEDERATED_START])
    )
    started = await browser.post(urljoin(url, paths.FEDERATED_START), data=hidden)
    assert started.status_code == 303, started.text[:500]
    return page, started.headers["location"]


async def consent_and_redeem(
    browser: httpx2.AsyncClient, gw: RunningGateway, callback: str, verifier: str
) -> tuple[str, dict[str, Any]]:
    """From the callback to the token response; (the consent page, the token response)."""
    back = await browser.get(callback)
    assert back.status_code == 303, back.text[:500]
    assert back.headers["location"].startswith("/authorize/consent?request_id=")
    consent = await browser.get(urljoin(gw.url, back.headers["location"]))
    assert consent.status_code == 200, consent.text[:500]
    action, hidden, scopes = form_fields(consent.text)
    done = await browser.post(urljoin(gw.url, action), data={**hidden, "decision": "allow", "scope": scopes})
    assert done.status_code == 303 and done.headers["location"].startswith(CB + "?"), done.text[:500]
    params = query_of(done.headers["location"])
    assert params["iss"] == gw.issuer and params["state"] == "client-state"
    token = await browser.post(
        gw.endpoint("/token"),
        data=DESK_CLIENT.redemption_form(params["code"], verifier),
    )
    assert token.status_code == 200, token.text
    body: dict[str, Any] = token.json()
    return consent.text, body


# -- the whole journey ------------------------------------------------------------------------------


async def test_a_person_signed_in_at_the_provider_gets_a_token_for_their_provider_subject(
    deployment: tuple[RunningGateway, RunningIdp], browser: httpx2.AsyncClient
) -> None:
    gw, idp = deployment
    verifier = new_verifier()
    sign_in, to_provider = await press_federated_button(browser, DESK_CLIENT.authorize_url(gw, verifier))
    assert "Sign in with Test IdP</button>" in sign_in.text
    # The sign-in page's forms may lead to the provider (CSP form-action also governs redirects).
    assert idp.issuer in sign_in.headers["content-security-policy"]

    upstream = query_of(to_provider)
    assert to_provider.startswith(idp.issuer + "/auth?")
    assert upstream["client_id"] == IDP_CLIENT and upstream["response_type"] == "code"
    assert upstream["redirect_uri"] == gw.endpoint(paths.FEDERATED_CALLBACK)
    assert upstream["scope"].split() == ["openid", "email"]
    assert upstream["code_challenge_method"] == "S256" and len(upstream["code_challenge"]) == 43
    assert len(upstream["state"]) >= 20 and len(upstream["nonce"]) >= 20
    # The upstream state and nonce are not the client's.
    assert "client-state" not in to_provider

    callback = await through_the_provider(browser, to_provider, gw)
    back = query_of(callback)
    assert back["iss"] == idp.issuer and back["state"] == upstream["state"] and back["code"]

    consent, token = await consent_and_redeem(browser, gw, callback, verifier)
    assert "Signed in as <strong>oidc:alice</strong>" in consent
    claims = claims_of(token["access_token"])
    assert claims["sub"] == "oidc:alice"
    assert claims["client_id"] == DESK and set(claims["scope"].split()) == set(SCOPES)


async def test_the_upstream_state_is_single_use(
    deployment: tuple[RunningGateway, RunningIdp], browser: httpx2.AsyncClient
) -> None:
    gw, _ = deployment
    verifier = new_verifier()
    _, to_provider = await press_federated_button(browser, DESK_CLIENT.authorize_url(gw, verifier))
    callback = await through_the_provider(browser, to_provider, gw, login="bob")
    _, token = await consent_and_redeem(browser, gw, callback, verifier)
    assert claims_of(token["access_token"])["sub"] == "oidc:bob"

    replay = await browser.get(callback)
    assert replay.status_code == 403 and "already used" in replay.text
    assert replay.headers["x-frame-options"] == "DENY"


async def test_a_callback_in_another_browser_is_refused_and_burns_the_state(
    deployment: tuple[RunningGateway, RunningIdp], browser: httpx2.AsyncClient
) -> None:
    gw, _ = deployment
    _, to_provider = await press_federated_button(browser, DESK_CLIENT.authorize_url(gw))
    callback = await through_the_provider(browser, to_provider, gw)
    async with http_client() as attacker:
        stolen = await attacker.get(callback)
    assert stolen.status_code == 403 and "not started in this browser" in stolen.text
    assert "set-cookie" not in stolen.headers
    late = await browser.get(callback)
    assert late.status_code == 403


async def test_an_authorization_response_naming_another_issuer_is_refused(
    deployment: tuple[RunningGateway, RunningIdp], browser: httpx2.AsyncClient
) -> None:
    """RFC 9207: a mixed-up response never signs anyone in."""
    gw, _ = deployment
    _, to_provider = await press_federated_button(browser, DESK_CLIENT.authorize_url(gw))
    callback = await through_the_provider(browser, to_provider, gw)
    params = query_of(callback) | {"iss": "https://evil.example"}
    mixed = await browser.get(gw.endpoint(paths.FEDERATED_CALLBACK) + "?" + urlencode(params))
    assert mixed.status_code == 403 and "issuer_mismatch" in mixed.text
    assert "set-cookie" not in mixed.headers


async def test_a_forged_state_is_refused(
    deployment: tuple[RunningGateway, RunningIdp], browser: httpx2.AsyncClient
) -> None:
    gw, _ = deployment
    forged = await browser.get(
        gw.endpoint(paths.FEDERATED_CALLBACK)
        + "?"
        + urlencode({"code": "x", "state": secrets.token_urlsafe(24)})
    )
    assert forged.status_code == 403 and "set-cookie" not in forged.headers


async def test_a_person_who_cancels_at_the_provider_is_not_signed_in(
    deployment: tuple[RunningGateway, RunningIdp], browser: httpx2.AsyncClient
) -> None:
    gw, _ = deployment
    _, to_provider = await press_federated_button(browser, DESK_CLIENT.authorize_url(gw))
    interaction = await browser.get(to_provider)
    assert interaction.status_code == 303
    uid = interaction.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    aborted = await browser.get(urljoin(to_provider, f"/interaction/{uid}/abort"))
    location = urljoin(to_provider, aborted.headers["location"])
    while not location.startswith(gw.url):
        hop = await browser.get(location)
        location = urljoin(location, hop.headers["location"])
    assert query_of(location)["error"] == "access_denied"
    refused = await browser.get(location)
    assert refused.status_code == 403 and "access_denied" in refused.text
    assert "set-cookie" not in refused.headers


async def test_a_provider_subject_equal_to_a_local_user_name_is_refused(
    deployment: tuple[RunningGateway, RunningIdp], browser: httpx2.AsyncClient
) -> None:
    """``oidc:bob`` left by an older version (``users add`` refuses the name now, AD-6) is someone
    else: never merged with the provider's bob."""
    gw, _ = deployment
    store = open_store(gw.settings.server.store)
    try:
        older = User("oidc:bob", hash_password("a local password 123"), "", ())
        await store.put_record(USERS, older.username, older.to_json())
        _, to_provider = await press_federated_button(browser, DESK_CLIENT.authorize_url(gw))
        callback = await through_the_provider(browser, to_provider, gw, login="bob")
        refused = await browser.get(callback)
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
    finally:
        await UserDirectory(store).remove("oidc:bob")
        await store.close()


# -- the ID-token rules, one by one, without the provider -------------------------------------------

ISSUER = "https://idp.example"
KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": "k1", "alg": "ES256", "use": "sig"}


def static_metadata(**overrides: Any) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/auth",
        "token_endpoint": ISSUER + "/token",
        "jwks": {"keys": [public_jwk(KEY)]},
        "id_token_signing_alg_values_supported": ["HS256", "ES256", "none"],
        **overrides,
    }


def federation(metadata: dict[str, Any] | None = None) -> OidcProvider:
    return federation_at(
        FederationConfig(ISSUER, IDP_CLIENT, IDP_SECRET, "http://127.0.0.1:1/cb"),
        SystemClock(),
        metadata or static_metadata(),
    )


def federation_at(
    config: FederationConfig, clock: Clock, metadata: dict[str, Any] | None = None
) -> OidcProvider:
    """The upstream provider as sign-in uses it; without ``metadata`` it discovers the provider's."""
    return OidcProvider(config, clock=clock, metadata=metadata)


def id_token(
    claims: dict[str, Any] | None = None, *, key: Any = KEY, alg: str = "ES256", **changes: Any
) -> dict[str, str]:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "carol", "aud": IDP_CLIENT, "iat": now, "exp": now + 300, "nonce": "n-1"}
    body = {k: v for k, v in {**body, **(claims or {}), **changes}.items() if v is not None}
    return {"id_token": jwt.encode(body, key, algorithm=alg, headers={"kid": "k1"}), "token_type": "Bearer"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(alg: str, secret: bytes | None) -> dict[str, str]:
    """A token pyjwt refuses to make: HMAC keyed with the provider's public key, or ``none``."""
    now = int(time.time())
    header = _b64(json.dumps({"alg": alg, "kid": "k1"}).encode())
    claims = {
        "iss": ISSUER,
        "sub": "mallory",
        "aud": IDP_CLIENT,
        "iat": now,
        "exp": now + 300,
        "nonce": "n-1",
    }
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = _b64(hmac.new(secret, signing_input.encode(), "sha256").digest()) if secret else ""
    return {"id_token": f"{signing_input}.{signature}", "token_type": "Bearer"}


async def test_a_valid_id_token_yields_its_claims() -> None:
    claims = await federation().validate_id_token(id_token(), "n-1")
    assert claims["sub"] == "carol"


PUBLIC_PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


@pytest.mark.parametrize(
    ("make", "why"),
    [
        pytest.param(lambda: id_token(nonce="n-2"), "'nonce'", id="nonce-mismatch"),
        pytest.param(lambda: id_token(nonce=None), "'nonce'", id="nonce-missing"),
        pytest.param(lambda: id_token(aud="another-client"), "'aud'", id="aud-other"),
        pytest.param(lambda: id_token(aud="another-client", azp=IDP_CLIENT), "'aud'", id="aud-other-azp-us"),
        pytest.param(lambda: id_token(aud=[IDP_CLIENT, "x"], azp="x"), "'azp'", id="azp-other"),
        pytest.param(lambda: id_token(iss="https://evil.example"), "'iss'", id="iss-other"),
        pytest.param(lambda: id_token(exp=int(time.time()) - 120), "expired", id="expired"),
        pytest.param(lambda: id_token(iat=None), "'iat'", id="iat-missing"),
        pytest.param(lambda: id_token(sub=None), "'sub'", id="sub-missing"),
        pytest.param(lambda: id_token(sub="has space"), "unusable sub", id="sub-unusable"),
        pytest.param(lambda: id_token(key=OTHER_KEY), "bad_signature", id="another-key"),
        pytest.param(
            lambda: hand_signed("HS256", PUBLIC_PEM), "'HS256' is not allowed", id="hs256-public-key"
        ),
        pytest.param(
            lambda: hand_signed("HS256", IDP_SECRET.encode()),
            "'HS256' is not allowed",
            id="hs256-client-secret",
        ),
        pytest.param(lambda: hand_signed("none", None), "'none' is not allowed", id="alg-none"),
        pytest.param(lambda: {"access_token": "x"}, "id_token_missing", id="no-id-token"),
    ],
)
async def test_an_unacceptable_id_token_is_rejected(make: Callable[[], dict[str, str]], why: str) -> None:
    with pytest.raises(IdTokenRejected, match=why):
        await federation().validate_id_token(make(), "n-1")


async def test_only_asymmetric_algorithms_are_accepted_from_the_metadata() -> None:
    fed = federation()
    metadata = await fed.metadata()
    assert metadata["id_token_signing_alg_values_supported"] == ["ES256"]
    with pytest.raises(FederationError, match="asymmetric"):
        await federation(static_metadata(id_token_signing_alg_values_supported=["HS256"])).metadata()


async def test_a_discovery_document_for_another_issuer_is_refused() -> None:
    with pytest.raises(FederationError, match="another issuer"):
        await federation(static_metadata(issuer=ISSUER + "/")).metadata()
    with pytest.raises(FederationError, match="token_endpoint"):
        await federation(static_metadata(token_endpoint="http://idp.example/token")).metadata()


async def test_an_unreachable_provider_does_not_hold_up_the_sign_in_page() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    fed = federation_at(
        FederationConfig(closed, IDP_CLIENT, IDP_SECRET, "http://127.0.0.1:1/cb", timeout=2), SystemClock()
    )
    with pytest.raises(FederationError, match="discovery failed"):
        await fed.metadata()
    started = time.monotonic()
    assert await fed.form_targets() == [closed]
    assert time.monotonic() - started < 0.1  # no new attempt within the retry interval


AUTHORIZE_ELSEWHERE = "https://login.idp.example/auth"


@contextlib.contextmanager
def provider_coming_back() -> Iterator[tuple[str, threading.Event, list[str]]]:
    """A provider's discovery endpoint on a free loopback port: 503 until the event is set, then its
    metadata. Yields its issuer, that event and the paths it was asked for."""
    requested: list[str] = []
    up = threading.Event()

    class Discovery(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            requested.append(self.path)
            body = json.dumps(static_metadata(issuer=issuer, authorization_endpoint=AUTHORIZE_ELSEWHERE))
            self.send_response(200 if up.is_set() else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Discovery)
    issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer, up, requested
    finally:
        server.shutdown()
        server.server_close()


async def test_the_sign_in_page_tries_discovery_again_only_after_the_retry_interval() -> None:
    clock = FrozenClock(1_700_000_000.0)
    with provider_coming_back() as (issuer, up, requested):
        fed = federation_at(FederationConfig(issuer, IDP_CLIENT, IDP_SECRET, "http://127.0.0.1:1/cb"), clock)
        with pytest.raises(FederationError, match="discovery failed"):
            await fed.metadata()
        assert len(requested) == 1
        up.set()
        clock.advance(RETRY_DISCOVERY_AFTER - 1)
        assert await fed.form_targets() == [issuer]
        assert len(requested) == 1, "no new attempt within the retry interval"
        clock.advance(1)
        assert await fed.form_targets() == sorted([issuer, "https://login.idp.example"])
        assert len(requested) == 2


# -- configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MCP_GATEWAY_OIDC_ISSUER": "http://idp.example"}, "https"),
        ({"MCP_GATEWAY_OIDC_ISSUER": "https://idp.example"}, "oidc_client_id"),
        (
            {
                "MCP_GATEWAY_OIDC_ISSUER": "https://idp.example",
                "MCP_GATEWAY_OIDC_CLIENT_ID": "gw",
                "MCP_GATEWAY_OIDC_SCOPES": "email",
            },
            "openid",
        ),
    ],
)
def test_bad_federation_settings_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ)


def test_federation_is_off_without_an_issuer() -> None:
    assert load_settings(environ={}).federation.oidc_issuer == ""


# -- the same journey in a real browser ------------------------------------------------------------


def test_the_federated_journey_works_in_chromium(deployment: tuple[RunningGateway, RunningIdp]) -> None:
    """Chromium applies the sign-in page's CSP ``form-action`` to the redirect to the provider too."""
    gw, idp = deployment
    verifier = new_verifier()
    with chromium_browser() as chromium:
        page = chromium.new_page()
        blocked: list[str] = []
        page.on(
            "console", lambda message: blocked.append(message.text) if "violates" in message.text else None
        )
        page.goto(DESK_CLIENT.authorize_url(gw, verifier))
        page.get_by_role("button", name="Sign in with Test IdP").click()
        page.wait_for_url(idp.issuer + "/interaction/*")
        page.locator("input[name=login]").fill("erin")  # no consent remembered yet
        page.locator("input[name=password]").fill("any password")
        page.get_by_role("button", name="Sign-in").click()
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(gw.url + "/authorize/consent?*")
        expect(page.get_by_role("heading", level=1)).to_have_text("Allow Desk Assistant to act for you?")
        expect(page.get_by_role("main")).to_contain_text("Signed in as oidc:erin")
        with page.expect_request(lambda request: request.url.startswith(CB + "?")) as back:
            page.get_by_role("button", name="Allow").click()
        assert not blocked, blocked
        params = query_of(back.value.url)
    token = httpx2.post(
        gw.endpoint("/token"),
        data=DESK_CLIENT.redemption_form(params["code"], verifier),
        timeout=30,
    )
    assert token.status_code == 200, token.text
    assert claims_of(token.json()["access_token"])["sub"] == "oidc:erin"
