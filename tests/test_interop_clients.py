"""Real OAuth clients we did not write obtain tokens from a running gateway.

* the ``mcp`` SDK's ``PrivateKeyJWTOAuthProvider`` and ``ClientCredentialsOAuthProvider``: httpx2
  auth flows that start from a protected resource's 401, discover RFC 9728 metadata, then RFC 8414
  metadata, and call ``/token`` (CA-1 … CA-3, the MCP client-credentials extension);
* authlib's ``AsyncOAuth2Client`` with its ``PrivateKeyJWT`` client authentication, also for
  introspection (IN-1) and revocation (RV-1).

Every token is verified independently with pyjwt against the published JWKS. The gateway has no
MCP endpoint yet, so the test mounts a minimal protected resource (``/mcp`` and its RFC 9728
metadata) in front of the gateway's app; it checks tokens with the gateway's own verifier and
deny-list (:mod:`tests.support.protected_resource`). Each test runs on SQLite and on a private
Redis server.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx2
import pytest
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider

from examples.agent import MemoryTokenStorage
from gateway.config import settings_from
from gateway.oauth.clients.model import hash_secret
from gateway.settings import Settings
from tests.support.agents import AgentKey
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.kek import SHARED_STORE_KEK
from tests.support.protected_resource import CHALLENGED_SCOPE, HELD_SCOPES, with_protected_resource
from tests.support.sdk_clients import private_key_jwt_provider, signed_assertions
from tests.support.tokens import claims_of, verified_claims

JWT_AGENT = "jwt-agent"
BASIC_AGENT = "basic-agent"
POST_AGENT = "post-agent"
SECRET = "interop-secret-for-tests-only-0123456789abcdef"


@pytest.fixture(scope="module")
def agent_key() -> AgentKey:
    return AgentKey()


@contextlib.contextmanager
def gateway_for(store_url: str, agent_key: AgentKey, **overrides: Any) -> Iterator[RunningGateway]:
    def settings(port: int) -> Settings:
        return settings_from(
            port=port,
            store=store_url,
            key_encryption_key=SHARED_STORE_KEK,
            clients=(
                {"client_id": JWT_AGENT, "scopes": HELD_SCOPES, "jwks": agent_key.jwks},
                {
                    "client_id": BASIC_AGENT,
                    "auth_method": "client_secret_basic",
                    "scopes": HELD_SCOPES,
                    "secret_hash": hash_secret(SECRET),
                },
                {
                    "client_id": POST_AGENT,
                    "auth_method": "client_secret_post",
                    "scopes": HELD_SCOPES,
                    "secret_hash": hash_secret(SECRET),
                },
            ),
            **overrides,
        )

    with running_gateway(settings, wrap=with_protected_resource) as running:
        yield running


@pytest.fixture
def gateway(store_url: str, agent_key: AgentKey) -> Iterator[RunningGateway]:
    with gateway_for(store_url, agent_key) as running:
        yield running


# -- independent verification with pyjwt ----------------------------------------------------


async def verify_with_published_jwks(
    gateway: RunningGateway, token: str, *, client_id: str, scope: str
) -> dict[str, Any]:
    """Check the token as any resource server would: JWKS from the gateway, pyjwt, RFC 9068."""
    claims = await verified_claims(gateway, token, f"{gateway.url}/mcp")
    assert claims["aud"] == f"{gateway.url}/mcp"
    assert claims["client_id"] == claims["sub"] == client_id
    assert claims["scope"] == scope
    assert claims["exp"] - claims["iat"] == 300
    return claims


# -- the mcp SDK ----------------------------------------------------------------------------


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Counts token requests while passing everything to the real network."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self.token_requests = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/token":
            self.token_requests += 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def call_resource_twice(
    gateway: RunningGateway, provider: httpx2.Auth
) -> tuple[list[httpx2.Response], RecordingTransport]:
    transport = RecordingTransport()
    async with httpx2.AsyncClient(auth=provider, transport=transport, timeout=10) as http:
        responses = [await http.get(f"{gateway.url}/mcp") for _ in range(2)]
    return responses, transport


async def assert_sdk_flow_succeeded(
    gateway: RunningGateway,
    provider: httpx2.Auth,
    storage: MemoryTokenStorage,
    client_id: str,
) -> None:
    responses, transport = await call_resource_twice(gateway, provider)
    for response in responses:
        assert response.status_code == 200, response.text
    assert transport.token_requests == 1, "the second call must reuse the token"
    assert storage.tokens is not None
    assert storage.tokens.token_type.lower() == "bearer"
    assert storage.tokens.expires_in == 300
    assert storage.tokens.scope == CHALLENGED_SCOPE
    claims = await verify_with_published_jwks(
        gateway, storage.tokens.access_token, client_id=client_id, scope=CHALLENGED_SCOPE
    )
    assert responses[0].json() == claims  # what the resource side saw


@pytest.mark.anyio
async def test_mcp_sdk_accepts_the_gateways_own_as_metadata(store_url: str, agent_key: AgentKey) -> None:
    with gateway_for(store_url, agent_key) as gateway:
        provider = private_key_jwt_provider(gateway, JWT_AGENT, agent_key, MemoryTokenStorage())
        async with httpx2.AsyncClient(auth=provider, timeout=10) as http:
            response = await http.get(f"{gateway.url}/mcp")
        assert response.status_code == 200


@pytest.mark.anyio
async def test_mcp_sdk_private_key_jwt_provider_gets_a_token_the_resource_and_jwks_accept(
    gateway: RunningGateway, agent_key: AgentKey
) -> None:
    storage = MemoryTokenStorage()
    provider = private_key_jwt_provider(gateway, JWT_AGENT, agent_key, storage)
    await assert_sdk_flow_succeeded(gateway, provider, storage, JWT_AGENT)


async def sdk_assertion_audiences(
    gateway: RunningGateway, agent_key: AgentKey, rewrite: Callable[[str], str] = lambda aud: aud
) -> tuple[httpx2.Response, list[str]]:
    """Run the SDK's private_key_jwt flow, recording the audience the SDK asked assertions for."""
    audiences: list[str] = []
    sign = signed_assertions(JWT_AGENT, agent_key)

    async def recording_assertions(audience: str) -> str:
        audiences.append(audience)
        return await sign(rewrite(audience))

    provider = private_key_jwt_provider(
        gateway, JWT_AGENT, agent_key, MemoryTokenStorage(), recording_assertions
    )
    async with httpx2.AsyncClient(auth=provider, timeout=10) as http:
        return await http.get(f"{gateway.url}/mcp"), audiences


@pytest.mark.anyio
async def test_mcp_sdk_private_key_jwt_assertion_audience_is_the_issuer_byte_for_byte(
    gateway: RunningGateway, agent_key: AgentKey
) -> None:
    response, audiences = await sdk_assertion_audiences(gateway, agent_key)
    assert response.status_code == 200, response.text
    assert audiences == [gateway.issuer]


@pytest.mark.anyio
async def test_mcp_sdk_assertion_naming_the_root_issuer_with_a_trailing_slash_is_accepted(
    gateway: RunningGateway, agent_key: AgentKey
) -> None:
    """Clients that render the issuer through a URL type send ``http://host:port/``: for a root
    issuer that names the same server (CA-3). Signed by the SDK's own assertion provider."""
    response, audiences = await sdk_assertion_audiences(gateway, agent_key, lambda aud: aud + "/")
    assert response.status_code == 200, response.text
    assert audiences == [gateway.issuer]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("client_id", "method"), [(BASIC_AGENT, "client_secret_basic"), (POST_AGENT, "client_secret_post")]
)
async def test_mcp_sdk_client_credentials_provider_gets_a_token_with_a_client_secret(
    gateway: RunningGateway, client_id: str, method: Any
) -> None:
    storage = MemoryTokenStorage()
    provider = ClientCredentialsOAuthProvider(
        server_url=f"{gateway.url}/mcp",
        storage=storage,
        client_id=client_id,
        client_secret=SECRET,
        token_endpoint_auth_method=method,
        issuer=gateway.issuer,
    )
    await assert_sdk_flow_succeeded(gateway, provider, storage, client_id)


@pytest.mark.anyio
async def test_mcp_sdk_client_credentials_provider_with_a_wrong_secret_never_reaches_the_resource(
    gateway: RunningGateway,
) -> None:
    provider = ClientCredentialsOAuthProvider(
        server_url=f"{gateway.url}/mcp",
        storage=MemoryTokenStorage(),
        client_id=BASIC_AGENT,
        client_secret=SECRET + "-wrong",
        issuer=gateway.issuer,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=10) as http:
        with pytest.raises(Exception, match="invalid_client"):
            await http.get(f"{gateway.url}/mcp")


# -- authlib --------------------------------------------------------------------------------


def authlib_key(agent_key: AgentKey) -> ECKey:
    return ECKey.import_key(agent_key.pem)


def private_key_jwt(audience: str | None, lifetime: int = 60) -> PrivateKeyJWT:
    """authlib's ``private_key_jwt``: ``aud`` defaults to the URL posted to (the token endpoint).

    Two authlib defaults do not fit a strict server and are overridden through ``claims``:
    ``exp`` (``iat + 3600`` by default, over the gateway's 300 s limit) and, when ``audience`` is
    given, ``aud``. authlib adds its ``jti`` *into* the ``claims`` dict it was given, so one
    instance with claims signs every later assertion with the same ``jti``: build one per request.
    """
    claims: dict[str, Any] = {"exp": int(time.time()) + lifetime}
    if audience is not None:
        claims["aud"] = audience
    return PrivateKeyJWT(claims=claims, alg="ES256")


def authlib_client(
    agent_key: AgentKey, auth: PrivateKeyJWT, sent_assertions: list[dict[str, Any]] | None = None
) -> AsyncOAuth2Client:
    """authlib's client; the claims of every client assertion it sends go to ``sent_assertions``."""

    async def record(request: httpx2.Request) -> None:
        form = parse_qs(request.content.decode())
        for assertion in form.get("client_assertion", []):
            claims = claims_of(assertion)
            (sent_assertions if sent_assertions is not None else []).append(claims)

    return AsyncOAuth2Client(
        client_id=JWT_AGENT,
        client_secret=authlib_key(agent_key),
        token_endpoint_auth_method=auth,
        timeout=10,
        event_hooks={"request": [record]},
    )


@pytest.mark.anyio
async def test_authlib_private_key_jwt_with_the_issuer_as_audience_gets_a_verifiable_token(
    gateway: RunningGateway, agent_key: AgentKey
) -> None:
    sent: list[dict[str, Any]] = []
    async with authlib_client(agent_key, private_key_jwt(gateway.issuer), sent) as client:
        token = await client.fetch_token(
            gateway.endpoint("/token"), grant_type="client_credentials", scope="tools:call"
        )
        assert [(claims["iss"], claims["sub"], claims["aud"]) for claims in sent] == [
            (JWT_AGENT, JWT_AGENT, gateway.issuer)
        ]
        assert token["token_type"] == "Bearer" and token["expires_in"] == 300
        assert token["scope"] == "tools:call"
        claims = await verify_with_published_jwks(
            gateway, token["access_token"], client_id=JWT_AGENT, scope="tools:call"
        )
        # authlib then uses the token as a bearer token at the protected resource.
        response = await client.get(f"{gateway.url}/mcp")
        assert response.status_code == 200, response.text
        assert response.json() == claims


@pytest.mark.anyio
async def test_authlib_default_token_endpoint_audience_is_refused_by_default(
    gateway: RunningGateway, agent_key: AgentKey
) -> None:
    sent: list[dict[str, Any]] = []
    async with authlib_client(agent_key, private_key_jwt(audience=None), sent) as client:
        with pytest.raises(OAuthError) as refused:
            await client.fetch_token(gateway.endpoint("/token"), grant_type="client_credentials")
    assert refused.value.error == "invalid_client"
    assert [claims["aud"] for claims in sent] == [gateway.endpoint("/token")]


@pytest.mark.anyio
async def test_authlib_default_token_endpoint_audience_is_accepted_with_the_legacy_setting(
    store_url: str, agent_key: AgentKey
) -> None:
    with gateway_for(store_url, agent_key, accept_token_endpoint_audience=True) as gateway:
        sent: list[dict[str, Any]] = []
        async with authlib_client(agent_key, private_key_jwt(audience=None), sent) as client:
            token = await client.fetch_token(gateway.endpoint("/token"), grant_type="client_credentials")
        assert [claims["aud"] for claims in sent] == [gateway.endpoint("/token")]
        await verify_with_published_jwks(
            gateway, token["access_token"], client_id=JWT_AGENT, scope=" ".join(HELD_SCOPES)
        )


@pytest.mark.anyio
async def test_authlib_default_assertion_lifetime_of_an_hour_is_refused(
    gateway: RunningGateway, agent_key: AgentKey
) -> None:
    """authlib's own default ``exp`` is ``iat + 3600``: over the 300 s limit (CA-4)."""
    sent: list[dict[str, Any]] = []
    auth = PrivateKeyJWT(claims={"aud": gateway.issuer}, alg="ES256")
    async with authlib_client(agent_key, auth, sent) as client:
        with pytest.raises(OAuthError) as refused:
            await client.fetch_token(gateway.endpoint("/token"), grant_type="client_credentials")
    assert refused.value.error == "invalid_client"
    assert [claims["exp"] - claims["iat"] for claims in sent] == [3600]


@pytest.mark.anyio
async def test_authlib_reusing_one_private_key_jwt_with_claims_replays_the_jti_and_is_refused(
    gateway: RunningGateway, agent_key: AgentKey
) -> None:
    sent: list[dict[str, Any]] = []
    async with authlib_client(agent_key, private_key_jwt(gateway.issuer), sent) as client:
        await client.fetch_token(gateway.endpoint("/token"), grant_type="client_credentials")
        with pytest.raises(OAuthError) as refused:
            await client.fetch_token(gateway.endpoint("/token"), grant_type="client_credentials")
    assert refused.value.error == "invalid_client"
    first, second = sent
    assert first["jti"] == second["jti"]


@pytest.mark.anyio
async def test_authlib_introspects_and_revokes_its_token_and_the_resource_then_refuses_it(
    gateway: RunningGateway, agent_key: AgentKey
) -> None:
    def fresh_auth(client: AsyncOAuth2Client) -> Any:
        return client.client_auth(private_key_jwt(gateway.issuer))

    async with authlib_client(agent_key, private_key_jwt(gateway.issuer)) as client:
        token = await client.fetch_token(gateway.endpoint("/token"), grant_type="client_credentials")
        access_token = token["access_token"]
        introspect: Callable[[], Any] = lambda: client.introspect_token(  # noqa: E731
            gateway.endpoint("/introspect"), token=access_token, auth=fresh_auth(client)
        )

        active = await introspect()
        assert active.status_code == 200 and active.headers["cache-control"] == "no-store"
        body = active.json()
        assert body["active"] is True
        assert body["client_id"] == JWT_AGENT and body["aud"] == f"{gateway.url}/mcp"

        revoked = await client.revoke_token(
            gateway.endpoint("/revoke"), token=access_token, auth=fresh_auth(client)
        )
        assert revoked.status_code == 200

        assert (await introspect()).json() == {"active": False}
        response = await client.get(f"{gateway.url}/mcp")
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
