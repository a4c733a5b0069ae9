"""Each rule of the token endpoint, proven on the HTTP endpoint of a running gateway (SQLite store).

AS-2 … AS-4, CA-1 … CA-6, RFC 8725; named after the rule each test proves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from gateway.config import settings_from
from gateway.oauth.clients.model import hash_secret
from gateway.settings import Settings
from tests.support.agents import JWT_BEARER, AgentKey, assertion_form
from tests.support.fetch_probes import Listener
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_clients import blocking_http_client
from tests.support.oauth_errors import error_of
from tests.support.tokens import claims_of

AGENT = "agent-1"
SECRET_AGENT = "secret-agent"
SECRET = "s3cr3t-value-for-tests-only-0123456789"


@pytest.fixture(scope="module")
def agent_key() -> AgentKey:
    return AgentKey()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, agent_key: AgentKey) -> Iterator[RunningGateway]:
    store = f"sqlite:///{tmp_path_factory.mktemp('gw') / 'gateway.sqlite3'}"

    def settings(port: int) -> Settings:
        return settings_from(
            port=port,
            store=store,
            resources=("https://tools.example/weather",),
            clients=(
                {
                    "client_id": AGENT,
                    "scopes": ("tools:read", "tools:call"),
                    "audiences": (f"http://127.0.0.1:{port}/mcp", "https://tools.example/weather"),
                    "jwks": agent_key.jwks,
                },
                {
                    "client_id": SECRET_AGENT,
                    "auth_method": "client_secret_basic",
                    "scopes": ("tools:read",),
                    "secret_hash": hash_secret(SECRET),
                },
            ),
        )

    with running_gateway(settings) as running:
        yield running


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with blocking_http_client(gateway.url) as client:
        yield client


def post_token(
    http: httpx.Client, form: dict[str, str] | list[tuple[str, str]], **kwargs: Any
) -> httpx.Response:
    return http.post(
        "/token",
        data=form if isinstance(form, dict) else None,
        content=None if isinstance(form, dict) else _encode(form),
        **kwargs,
    )


def _encode(pairs: list[tuple[str, str]]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(pairs).encode()


def test_a_valid_assertion_gets_a_short_lived_at_jwt(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    response = post_token(http, assertion_form(agent_key.assertion(AGENT, gateway.issuer)))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    claims = claims_of(body["access_token"])
    assert claims["aud"] == f"{gateway.url}/mcp"
    assert claims["sub"] == claims["client_id"] == AGENT
    assert claims["scope"] == "tools:read tools:call"


def test_a_replayed_assertion_jti_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    assertion = agent_key.assertion(AGENT, gateway.issuer)
    assert post_token(http, assertion_form(assertion)).status_code == 200
    replay = post_token(http, assertion_form(assertion))
    assert error_of(replay, 401) == "invalid_client"


def test_the_token_endpoint_as_assertion_audience_is_rejected_by_default(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    response = post_token(http, assertion_form(agent_key.assertion(AGENT, gateway.endpoint("/token"))))
    assert error_of(response, 401) == "invalid_client"


def test_an_assertion_audience_array_is_rejected_even_if_it_holds_the_issuer(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    response = post_token(http, assertion_form(agent_key.assertion(AGENT, [gateway.issuer])))
    assert error_of(response, 401) == "invalid_client"


def test_an_assertion_expiring_too_far_ahead_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    far = int(time.time()) + 3600
    response = post_token(http, assertion_form(agent_key.assertion(AGENT, gateway.issuer, exp=far)))
    assert error_of(response, 401) == "invalid_client"


def test_an_assertion_without_exp_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    response = post_token(http, assertion_form(agent_key.assertion(AGENT, gateway.issuer, exp=None)))
    assert error_of(response, 401) == "invalid_client"


def test_an_assertion_with_nbf_in_the_future_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    later = int(time.time()) + 120
    response = post_token(http, assertion_form(agent_key.assertion(AGENT, gateway.issuer, nbf=later)))
    assert error_of(response, 401) == "invalid_client"


def test_an_assertion_issued_long_ago_is_rejected_as_stale(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    response = post_token(
        http, assertion_form(agent_key.assertion(AGENT, gateway.issuer, iat=int(time.time()) - 3600))
    )
    assert error_of(response, 401) == "invalid_client"


def test_an_expired_assertion_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    past = int(time.time()) - 120
    response = post_token(
        http, assertion_form(agent_key.assertion(AGENT, gateway.issuer, iat=past - 60, exp=past))
    )
    assert error_of(response, 401) == "invalid_client"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)])


def _claims(gateway: RunningGateway) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": AGENT,
        "sub": AGENT,
        "aud": gateway.issuer,
        "iat": now,
        "exp": now + 60,
        "jti": str(now) + "x",
    }


def test_an_unsigned_alg_none_assertion_is_rejected(http: httpx.Client, gateway: RunningGateway) -> None:
    for signature in (b"", b"\x00"):
        token = _compact({"alg": "none", "typ": "JWT"}, _claims(gateway), signature)
        response = post_token(http, assertion_form(token))
        assert error_of(response, 401) == "invalid_client"


def test_an_hs256_assertion_keyed_with_the_client_public_key_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    """The classic algorithm-confusion attack: HMAC with the public key as the secret."""
    public_bytes = json.dumps(agent_key.public_jwk).encode()
    header = {"alg": "HS256", "typ": "JWT", "kid": agent_key.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(gateway)).encode())}"
    signature = hmac.new(public_bytes, signing_input.encode(), hashlib.sha256).digest()
    response = post_token(http, assertion_form(f"{signing_input}.{_b64(signature)}"))
    assert error_of(response, 401) == "invalid_client"


def test_an_alg_with_changed_case_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    token = agent_key.assertion(AGENT, gateway.issuer)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    header["alg"] = "es256"
    forged = ".".join([_b64(json.dumps(header).encode()), *token.split(".")[1:]])
    response = post_token(http, assertion_form(forged))
    assert error_of(response, 401) == "invalid_client"


@pytest.fixture
def recorder() -> Iterator[Listener]:
    """A loopback port that counts connections: proof that nothing was fetched."""
    listener = Listener()
    yield listener
    listener.close()


def keys_url(listener: Listener) -> str:
    return f"http://127.0.0.1:{listener.port}/keys"


def test_jwk_jku_and_x5u_headers_are_never_used_to_find_keys(
    http: httpx.Client, gateway: RunningGateway, recorder: Listener
) -> None:
    attacker = AgentKey()
    token = attacker.assertion(
        AGENT,
        gateway.issuer,
        headers={
            "jwk": attacker.public_jwk,
            "jku": keys_url(recorder),
            "x5u": keys_url(recorder),
            "kid": attacker.kid,
        },
    )
    response = post_token(http, assertion_form(token))
    assert error_of(response, 401) == "invalid_client"
    assert recorder.accepted() == 0


def test_jku_and_x5u_headers_on_a_genuine_assertion_are_ignored_without_a_request(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey, recorder: Listener
) -> None:
    token = agent_key.assertion(
        AGENT, gateway.issuer, headers={"jku": keys_url(recorder), "x5u": keys_url(recorder)}
    )
    assert post_token(http, assertion_form(token)).status_code == 200
    assert recorder.accepted() == 0


@pytest.mark.parametrize("kid", ["../../../etc/passwd", "' OR '1'='1' --", "a\\b/c;DROP TABLE clients"])
def test_a_kid_with_path_or_sql_characters_is_only_a_lookup_key(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey, kid: str
) -> None:
    token = agent_key.assertion(AGENT, gateway.issuer, headers={"kid": kid})
    response = post_token(http, assertion_form(token))
    assert error_of(response, 401) == "invalid_client"


def test_an_assertion_whose_iss_differs_from_sub_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    response = post_token(
        http, assertion_form(agent_key.assertion(AGENT, gateway.issuer, sub="someone-else"))
    )
    assert error_of(response, 401) == "invalid_client"


def test_a_client_id_that_differs_from_the_assertion_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    form = assertion_form(agent_key.assertion(AGENT, gateway.issuer), client_id=SECRET_AGENT)
    response = post_token(http, form)
    assert error_of(response, 401) == "invalid_client"


def test_an_unknown_client_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    response = post_token(http, assertion_form(agent_key.assertion("nobody", gateway.issuer)))
    assert error_of(response, 401) == "invalid_client"


def test_an_access_token_cannot_pass_for_a_client_assertion(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    token = agent_key.assertion(AGENT, gateway.issuer, headers={"typ": "at+jwt"})
    response = post_token(http, assertion_form(token))
    assert error_of(response, 401) == "invalid_client"


def test_an_assertion_with_a_critical_header_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    token = agent_key.assertion(AGENT, gateway.issuer, headers={"crit": ["exp"]})
    response = post_token(http, assertion_form(token))
    assert error_of(response, 401) == "invalid_client"


def test_an_assertion_with_duplicate_claims_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    header = {"alg": "ES256", "typ": "JWT", "kid": agent_key.kid}
    claims = _claims(gateway)
    payload = json.dumps(claims)[:-1] + ', "sub": "someone-else"}'
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(payload.encode())}"
    der = agent_key.private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    token = f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    response = post_token(http, assertion_form(token))
    assert error_of(response, 401) == "invalid_client"


def test_a_wrong_client_secret_is_rejected_with_a_basic_challenge(http: httpx.Client) -> None:
    response = post_token(http, {"grant_type": "client_credentials"}, auth=(SECRET_AGENT, "wrong"))
    assert error_of(response, 401) == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_a_correct_client_secret_gets_a_token(http: httpx.Client) -> None:
    response = post_token(http, {"grant_type": "client_credentials"}, auth=(SECRET_AGENT, SECRET))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "tools:read"


def test_two_client_authentication_methods_at_once_are_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    form = assertion_form(agent_key.assertion(AGENT, gateway.issuer))
    response = post_token(http, form, auth=(SECRET_AGENT, SECRET))
    assert error_of(response, 400) == "invalid_request"


def test_a_repeated_parameter_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    pairs = list(assertion_form(agent_key.assertion(AGENT, gateway.issuer)).items())
    pairs.append(("grant_type", "client_credentials"))
    response = post_token(http, pairs, headers={"content-type": "application/x-www-form-urlencoded"})
    assert error_of(response, 400) == "invalid_request"


def test_the_password_grant_is_unsupported(http: httpx.Client) -> None:
    response = post_token(
        http, {"grant_type": "password", "username": "u", "password": "p"}, auth=(SECRET_AGENT, SECRET)
    )
    assert error_of(response, 400) == "unsupported_grant_type"


def test_an_oversized_assertion_is_refused_before_any_parsing(
    http: httpx.Client, gateway: RunningGateway
) -> None:
    huge = "a" * (2 * 1024 * 1024)
    response = post_token(http, assertion_form(f"{huge}.{huge}.{huge}"))
    assert error_of(response, 400) == "invalid_request"
    big = "a" * 9000
    response = post_token(http, assertion_form(f"{big}.{big}.{big}"))
    assert error_of(response, 401) == "invalid_client"


def test_an_unknown_resource_is_invalid_target(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    form = assertion_form(agent_key.assertion(AGENT, gateway.issuer), resource="https://evil.example/mcp")
    response = post_token(http, form)
    assert error_of(response, 400) == "invalid_target"


def test_a_resource_with_a_fragment_is_invalid_target(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    form = assertion_form(agent_key.assertion(AGENT, gateway.issuer), resource=f"{gateway.url}/mcp#x")
    response = post_token(http, form)
    assert error_of(response, 400) == "invalid_target"


def test_the_resource_is_canonicalised_into_aud(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    form = assertion_form(
        agent_key.assertion(AGENT, gateway.issuer), resource="HTTPS://Tools.Example:443/weather"
    )
    response = post_token(http, form)
    assert response.status_code == 200, response.text
    claims = claims_of(response.json()["access_token"])
    assert claims["aud"] == "https://tools.example/weather"


def test_as4_scope_is_narrowed_to_what_the_client_may_hold(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    form = assertion_form(agent_key.assertion(AGENT, gateway.issuer), scope="tools:read admin")
    response = post_token(http, form)
    assert response.status_code == 200 and response.json()["scope"] == "tools:read"


def test_as4_a_narrower_scope_under_a_held_scope_may_be_requested_but_never_a_wider_one(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    narrower = assertion_form(agent_key.assertion(AGENT, gateway.issuer), scope="tools:call:weather")
    response = post_token(http, narrower)
    assert response.status_code == 200 and response.json()["scope"] == "tools:call:weather"
    wider = assertion_form(agent_key.assertion(AGENT, gateway.issuer), scope="tools")
    assert error_of(post_token(http, wider), 400) == "invalid_scope"


def test_as4_a_request_for_only_forbidden_scopes_is_invalid_scope(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    form = assertion_form(agent_key.assertion(AGENT, gateway.issuer), scope="admin")
    response = post_token(http, form)
    assert error_of(response, 400) == "invalid_scope"


def test_a_wrong_assertion_type_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    form = assertion_form(agent_key.assertion(AGENT, gateway.issuer))
    form["client_assertion_type"] = JWT_BEARER + "-x"
    response = post_token(http, form)
    assert error_of(response, 401) == "invalid_client"


def test_a_body_that_is_not_a_form_is_invalid_request(http: httpx.Client) -> None:
    response = http.post("/token", json={"grant_type": "client_credentials"})
    assert error_of(response, 400) == "invalid_request"


def test_issued_tokens_verify_against_the_published_jwks(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    token = post_token(http, assertion_form(agent_key.assertion(AGENT, gateway.issuer))).json()[
        "access_token"
    ]
    jwks = http.get("/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid))
    claims = jwt.decode(
        token, key.key, algorithms=["ES256"], audience=f"{gateway.url}/mcp", issuer=gateway.issuer
    )
    assert claims["client_id"] == AGENT


def _token(http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey) -> str:
    response = post_token(http, assertion_form(agent_key.assertion(AGENT, gateway.issuer)))
    return str(response.json()["access_token"])


def _introspect(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey, token: str
) -> httpx.Response:
    form = {
        "token": token,
        "client_assertion_type": JWT_BEARER,
        "client_assertion": agent_key.assertion(AGENT, gateway.issuer),
    }
    return http.post("/introspect", data=form)


def test_introspection_of_a_live_token_reports_its_claims(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    body = _introspect(http, gateway, agent_key, _token(http, gateway, agent_key)).json()
    assert body["active"] is True and body["client_id"] == AGENT and body["scope"] == "tools:read tools:call"


def test_introspection_requires_client_authentication(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    response = http.post("/introspect", data={"token": _token(http, gateway, agent_key)})
    assert error_of(response, 401) == "invalid_client"


def test_introspection_of_a_revoked_token_is_exactly_inactive(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    token = _token(http, gateway, agent_key)
    revoke = http.post("/revoke", data={"token": token}, auth=None, headers={})
    assert revoke.status_code == 401  # revocation needs client authentication too
    form = {
        "token": token,
        "client_assertion_type": JWT_BEARER,
        "client_assertion": agent_key.assertion(AGENT, gateway.issuer),
    }
    assert http.post("/revoke", data=form).status_code == 200
    assert _introspect(http, gateway, agent_key, token).json() == {"active": False}


def test_a_client_cannot_revoke_another_clients_token(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    token = _token(http, gateway, agent_key)
    response = http.post("/revoke", data={"token": token}, auth=(SECRET_AGENT, SECRET))
    assert response.status_code == 200
    assert _introspect(http, gateway, agent_key, token).json()["active"] is True


def test_revoking_an_unknown_token_answers_200(http: httpx.Client) -> None:
    response = http.post("/revoke", data={"token": "not-a-token"}, auth=(SECRET_AGENT, SECRET))
    assert response.status_code == 200


def test_introspection_of_an_expired_token_is_exactly_inactive(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey, tmp_path: Path
) -> None:
    token = _signed_by_gateway(gateway, {"exp": int(time.time()) - 5})
    assert _introspect(http, gateway, agent_key, token).json() == {"active": False}


def test_introspection_of_a_foreign_token_is_exactly_inactive(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    now = int(time.time())
    foreign = jwt.encode(
        {
            "iss": gateway.issuer,
            "sub": AGENT,
            "aud": f"{gateway.url}/mcp",
            "client_id": AGENT,
            "scope": "tools:read",
            "jti": "foreign",
            "iat": now,
            "exp": now + 60,
        },
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"typ": "at+jwt", "kid": "not-ours"},
    )
    assert _introspect(http, gateway, agent_key, foreign).json() == {"active": False}


def test_introspection_of_another_clients_token_is_exactly_inactive(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    response = post_token(http, {"grant_type": "client_credentials"}, auth=(SECRET_AGENT, SECRET))
    other = response.json()["access_token"]
    body = http.post("/introspect", data={"token": other}, auth=(SECRET_AGENT, SECRET)).json()
    assert body["active"] is True
    assert _introspect(http, gateway, agent_key, other).json() == {"active": False}


def _signed_by_gateway(gateway: RunningGateway, overrides: dict[str, Any]) -> str:
    """A token signed with the gateway's own current key, read from the store file."""
    import anyio

    from gateway.clock import SystemClock
    from gateway.key_encryption import protector_for
    from gateway.keys import KeyManager
    from gateway.store.factory import open_store

    async def snapshot() -> Any:
        server = gateway.settings.server
        store = open_store(server.store)
        protector = protector_for(server.key_encryption_key, server.store, {})
        try:
            return await KeyManager(store, SystemClock(), 600, 360, protector=protector).snapshot()
        finally:
            await store.close()

    keys = anyio.run(snapshot)
    now = int(time.time())
    claims = {
        "iss": gateway.issuer,
        "sub": AGENT,
        "aud": f"{gateway.url}/mcp",
        "client_id": AGENT,
        "scope": "tools:read",
        "jti": f"j{now}",
        "iat": now - 600,
        "exp": now + 60,
        **overrides,
    }
    return jwt.encode(
        claims, keys.signing_key, algorithm="ES256", headers={"typ": "at+jwt", "kid": keys.signing_kid}
    )


def test_a_truncated_signature_is_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    token = agent_key.assertion(AGENT, gateway.issuer)
    response = post_token(http, assertion_form(token[:-10]))
    assert error_of(response, 401) == "invalid_client"


def test_stray_characters_inside_base64url_segments_are_rejected(
    http: httpx.Client, gateway: RunningGateway, agent_key: AgentKey
) -> None:
    """A lenient decoder skips characters outside the alphabet: two strings, one token."""
    header, payload, signature = agent_key.assertion(AGENT, gateway.issuer).split(".")
    for forged in (
        f"{header}.{payload[:5]}!{payload[5:]}.{signature}",
        f"{header}.{payload}.{signature[:5]}+{signature[5:]}",
    ):
        response = post_token(http, assertion_form(forged))
        assert error_of(response, 401) == "invalid_client"
