"""Token exchange end to end with a client we did not write: authlib's ``AsyncOAuth2Client``.

authlib obtains the agent's own token (``client_credentials``), exchanges it (RFC 8693) for a token
for a downstream target, introspects the result, then revokes the agent's token and sees the
exchanged token go inactive (RV-1). Every issued token is verified independently with pyjwt
against the published JWKS, as a downstream resource server would. SQLite and a private Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from gateway.config import settings_from
from gateway.oauth.clients.model import hash_secret
from gateway.settings import Settings
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.kek import SHARED_STORE_KEK
from tests.support.tokens import verified_claims

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
BASIC_AGENT = "exchange-basic"
POST_AGENT = "exchange-post"
OTHER_AGENT = "exchange-other"
SECRET = "exchange-interop-secret-for-tests-only-0123456789"
WEATHER = "https://tools.example/weather"


@pytest.fixture
def gateway(store_url: str) -> Iterator[RunningGateway]:

    def settings(port: int) -> Settings:
        audiences = (f"http://127.0.0.1:{port}/mcp", WEATHER)

        def client(client_id: str, method: str) -> dict[str, Any]:
            return {
                "client_id": client_id,
                "auth_method": method,
                "secret_hash": hash_secret(SECRET),
                "scopes": ("tools:read", "tools:call"),
                "audiences": audiences,
                "grant_types": ("client_credentials", GRANT),
            }

        return settings_from(
            port=port,
            store=store_url,
            key_encryption_key=SHARED_STORE_KEK,
            targets=({"audience": WEATHER, "scopes": ("tools:read", "tools:call")},),
            clients=(
                client(BASIC_AGENT, "client_secret_basic"),
                client(POST_AGENT, "client_secret_post"),
                client(OTHER_AGENT, "client_secret_basic"),
            ),
        )

    with running_gateway(settings) as running:
        yield running


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("client_id", "method"), [(BASIC_AGENT, "client_secret_basic"), (POST_AGENT, "client_secret_post")]
)
async def test_authlib_exchanges_a_token_and_the_result_verifies_against_the_jwks(
    gateway: RunningGateway, client_id: str, method: str
) -> None:
    # authlib revokes with client_secret_basic unless told otherwise; the gateway holds each
    # client to its one registered method, so say it for revocation too.
    async with AsyncOAuth2Client(
        client_id=client_id,
        client_secret=SECRET,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        timeout=10,
    ) as client:
        own = await client.fetch_token(gateway.endpoint("/token"), grant_type="client_credentials")
        subject = await verified_claims(gateway, own["access_token"], f"{gateway.url}/mcp")

        token = await client.fetch_token(
            gateway.endpoint("/token"),
            grant_type=GRANT,
            subject_token=own["access_token"],
            subject_token_type=ACCESS_TOKEN,
            audience=WEATHER,
            scope="tools:read",
        )
        assert token["issued_token_type"] == ACCESS_TOKEN
        assert token["token_type"] == "Bearer"
        assert token["scope"] == "tools:read"
        assert "refresh_token" not in token
        claims = await verified_claims(gateway, token["access_token"], WEATHER)
        assert claims["aud"] == WEATHER and claims["scope"] == "tools:read"
        assert claims["sub"] == subject["sub"] == client_id and claims["client_id"] == client_id
        assert claims["act"] == {"sub": client_id}
        assert claims["exp"] <= subject["exp"]
        assert token["expires_in"] == claims["exp"] - claims["iat"]

        introspected = await client.introspect_token(
            gateway.endpoint("/introspect"), token=token["access_token"]
        )
        body = introspected.json()
        assert body["active"] is True and body["act"] == {"sub": client_id} and body["aud"] == WEATHER

        revoked = await client.revoke_token(gateway.endpoint("/revoke"), token=own["access_token"])
        assert revoked.status_code == 200
        after = await client.introspect_token(gateway.endpoint("/introspect"), token=token["access_token"])
        assert after.json() == {"active": False}


@pytest.mark.anyio
async def test_authlib_sees_the_refusals_as_oauth_errors(gateway: RunningGateway) -> None:
    async with (
        AsyncOAuth2Client(
            client_id=BASIC_AGENT, client_secret=SECRET, token_endpoint_auth_method="client_secret_basic"
        ) as owner,
        AsyncOAuth2Client(
            client_id=OTHER_AGENT, client_secret=SECRET, token_endpoint_auth_method="client_secret_basic"
        ) as thief,
    ):
        own = await owner.fetch_token(
            gateway.endpoint("/token"), grant_type="client_credentials", scope="tools:read"
        )
        cases = [
            (thief, {"audience": WEATHER}, "invalid_request"),  # TE-5: not the subject's client
            (owner, {"audience": WEATHER, "scope": "tools:call"}, "invalid_scope"),  # TE-4
            (owner, {"audience": "https://tools.example/unknown"}, "invalid_target"),  # TE-3
        ]
        for client, extra, error in cases:
            with pytest.raises(OAuthError) as refused:
                await client.fetch_token(
                    gateway.endpoint("/token"),
                    grant_type=GRANT,
                    subject_token=own["access_token"],
                    subject_token_type=ACCESS_TOKEN,
                    **extra,
                )
            assert refused.value.error == error
