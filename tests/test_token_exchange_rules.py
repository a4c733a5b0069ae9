"""Each rule of token exchange (RFC 8693), proven on the HTTP endpoint of a running gateway (SQLite).

TE-1 … TE-7 and RV-1 (the revocation cascade); named after the rule each test proves.

No grant of the gateway issues a ``may_act`` claim, and some rules need subject tokens no client
can obtain over HTTP (expired, foreign ``typ``, another issuer on the gateway's own key). Those are
signed *inside the running server* with the gateway's own keys (``harness.inside.mint``, see
:mod:`tests.support.gateway_loop`), exactly as the gateway signs, so the endpoint cannot tell them
from tokens it issued itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from gateway.config import settings_from
from gateway.oauth.clients.model import hash_secret
from gateway.oauth.tokens.access_tokens import ACCESS_TOKEN_TYP
from gateway.settings import Settings
from tests.support.agents import AgentKey
from tests.support.gateway_loop import GatewayLoop
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_clients import blocking_http_client
from tests.support.oauth_errors import error_of
from tests.support.tokens import claims_of

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
BOTH_GRANTS = ("client_credentials", GRANT)

A, B, C = "agent-a", "agent-b", "agent-c"
IMPERSONATOR = "impersonator"
NO_EXCHANGE = "no-exchange"
SECRETS = {name: f"{name}-secret-for-tests-only-0123456789" for name in (A, B, C, IMPERSONATOR, NO_EXCHANGE)}

WEATHER = "https://tools.example/weather"
READONLY = "https://tools.example/readonly"
UNKNOWN = "https://tools.example/unknown"


# -- the gateway, and a way to sign tokens inside it ------------------------------------------


@dataclass
class Harness:
    running: RunningGateway
    inside: GatewayLoop = field(repr=False)

    @property
    def mcp(self) -> str:
        return self.running.settings.mcp.resource


def _client(name: str, scopes: tuple[str, ...], audiences: tuple[str, ...], **options: Any) -> dict[str, Any]:
    return {
        "client_id": name,
        "auth_method": "client_secret_basic",
        "secret_hash": hash_secret(SECRETS[name]),
        "scopes": scopes,
        "audiences": audiences,
        **{"grant_types": BOTH_GRANTS, **options},
    }


@contextlib.contextmanager
def exchange_gateway(store_dir: Path, **overrides: Any) -> Iterator[Harness]:
    """Five clients; two targets with scope lists; exchanged tokens may outlive the 300 s default."""
    inside = GatewayLoop()

    def settings(port: int) -> Settings:
        mcp = f"http://127.0.0.1:{port}/mcp"
        everywhere = (mcp, WEATHER, READONLY)
        return settings_from(
            port=port,
            store=f"sqlite:///{store_dir / 'gateway.sqlite3'}",
            targets=(
                {"audience": WEATHER, "scopes": ("tools:read", "tools:call")},
                {"audience": READONLY, "scopes": ("tools:read",)},
            ),
            clients=(
                _client(A, ("tools:read", "tools:call", "tools:admin"), everywhere),
                _client(B, ("tools:read", "tools:call"), everywhere),
                _client(C, ("tools:read", "tools:call"), (mcp, WEATHER)),
                _client(IMPERSONATOR, ("tools:read", "tools:call"), everywhere, may_impersonate=True),
                _client(NO_EXCHANGE, ("tools:read",), everywhere, grant_types=("client_credentials",)),
            ),
            **{"exchange_max_ttl": 3600, **overrides},
        )

    with running_gateway(settings, wrap=inside.wrap) as running:
        yield Harness(running, inside)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with exchange_gateway(tmp_path_factory.mktemp("exchange")) as running:
        yield running


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """The same gateway with delegation chains capped at two actors."""
    with exchange_gateway(tmp_path_factory.mktemp("capped"), max_delegation_depth=2) as running:
        yield running


@pytest.fixture(scope="module")
def http(harness: Harness) -> Iterator[httpx.Client]:
    with blocking_http_client(harness.running.url) as client:
        yield client


@pytest.fixture(scope="module")
def capped_http(capped: Harness) -> Iterator[httpx.Client]:
    with blocking_http_client(capped.running.url) as client:
        yield client


@pytest.fixture
def audit(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="mcp_gateway.audit")
    return caplog


# -- helpers --------------------------------------------------------------------------------


def basic(client_id: str) -> tuple[str, str]:
    return (client_id, SECRETS[client_id])


def own_token(http: httpx.Client, client_id: str, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    response = http.post("/token", data=form, auth=basic(client_id))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def exchange(
    http: httpx.Client,
    client_id: str,
    subject_token: str | None,
    *,
    audience: str | None = None,
    scope: str | None = None,
    subject_token_type: str | None = ACCESS_TOKEN,
    actor_token: str | None = None,
    actor_token_type: str | None = None,
    **extra: str,
) -> httpx.Response:
    form = {
        "grant_type": GRANT,
        "subject_token": subject_token,
        "subject_token_type": subject_token_type,
        "audience": audience,
        "scope": scope,
        "actor_token": actor_token,
        "actor_token_type": actor_token_type,
        **extra,
    }
    return http.post("/token", data={k: v for k, v in form.items() if v is not None}, auth=basic(client_id))


def exchanged(http: httpx.Client, client_id: str, subject_token: str, **options: Any) -> str:
    response = exchange(http, client_id, subject_token, **options)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def refused(response: httpx.Response, error: str) -> None:
    """Refused with a 400 ``error`` (RFC 8693 §2.2.2 answers with RFC 6749 §5.2 errors)."""
    assert error_of(response) == error, response.text


def introspect(http: httpx.Client, client_id: str, token: str) -> dict[str, Any]:
    response = http.post("/introspect", data={"token": token}, auth=basic(client_id))
    assert response.status_code == 200, response.text
    return dict(response.json())


def audit_lines(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mcp_gateway.audit"]
    return [line for line in lines if line["event"] == event]


# -- TE-1: the request ----------------------------------------------------------------------


def test_te1_missing_subject_token_type_is_invalid_request(http: httpx.Client) -> None:
    refused(
        exchange(http, A, own_token(http, A), audience=WEATHER, subject_token_type=None), "invalid_request"
    )


def test_te1_missing_subject_token_is_invalid_request(http: httpx.Client) -> None:
    refused(exchange(http, A, None, audience=WEATHER), "invalid_request")


def test_te1_an_unsupported_subject_token_type_is_invalid_request(http: httpx.Client) -> None:
    response = exchange(http, A, own_token(http, A), audience=WEATHER, subject_token_type=ID_TOKEN)
    refused(response, "invalid_request")


def test_te1_the_jwt_subject_token_type_is_accepted(http: httpx.Client) -> None:
    response = exchange(http, A, own_token(http, A), audience=WEATHER, subject_token_type=JWT_TYPE)
    assert response.status_code == 200, response.text


def test_te1_actor_token_without_actor_token_type_is_invalid_request(http: httpx.Client) -> None:
    response = exchange(http, A, own_token(http, A), audience=WEATHER, actor_token=own_token(http, A))
    refused(response, "invalid_request")


def test_te1_actor_token_type_without_actor_token_is_invalid_request(http: httpx.Client) -> None:
    response = exchange(http, A, own_token(http, A), audience=WEATHER, actor_token_type=ACCESS_TOKEN)
    refused(response, "invalid_request")


def test_te1_the_exchange_grant_needs_the_client_to_hold_it(http: httpx.Client) -> None:
    response = exchange(http, NO_EXCHANGE, own_token(http, NO_EXCHANGE), audience=WEATHER)
    refused(response, "unauthorized_client")


def test_te1_a_repeated_subject_token_is_invalid_request(http: httpx.Client) -> None:
    token = own_token(http, A)
    response = http.post(
        "/token",
        content=urlencode(
            [
                ("grant_type", GRANT),
                ("subject_token", token),
                ("subject_token", token),
                ("subject_token_type", ACCESS_TOKEN),
                ("audience", WEATHER),
            ]
        ),
        headers={"content-type": "application/x-www-form-urlencoded"},
        auth=basic(A),
    )
    refused(response, "invalid_request")


# -- TE-2: the subject (and actor) token is verified in full ---------------------------------


def test_te2_an_expired_subject_token_is_invalid_request(http: httpx.Client, harness: Harness) -> None:
    expired = harness.inside.mint(client_id=A, scope="tools:read", lifetime=-5)
    refused(exchange(http, A, expired, audience=WEATHER), "invalid_request")


def test_te2_a_revoked_subject_token_is_invalid_request(http: httpx.Client) -> None:
    token = own_token(http, A)
    assert http.post("/revoke", data={"token": token}, auth=basic(A)).status_code == 200
    refused(exchange(http, A, token, audience=WEATHER), "invalid_request")


def test_te2_a_token_from_another_issuer_on_the_gateways_own_key_is_invalid_request(
    http: httpx.Client, harness: Harness
) -> None:
    foreign = harness.inside.mint(client_id=A, scope="tools:read", issuer="https://other-issuer.example")
    assert jwt.get_unverified_header(foreign)["kid"] in http.get("/jwks.json").text
    refused(exchange(http, A, foreign, audience=WEATHER), "invalid_request")


@pytest.mark.parametrize("issuer", ["https://other-issuer.example", "gateway"])
def test_te2_a_token_signed_by_a_foreign_key_is_invalid_request(
    http: httpx.Client, harness: Harness, issuer: str
) -> None:
    now = int(time.time())
    claims = {
        "iss": harness.running.issuer if issuer == "gateway" else issuer,
        "sub": A,
        "client_id": A,
        "aud": harness.mcp,
        "scope": "tools:read",
        "iat": now,
        "exp": now + 300,
        "jti": f"foreign-{issuer}-{now}",
    }
    forged = jwt.encode(
        claims, AgentKey().private_key, algorithm="ES256", headers={"kid": "forged", "typ": ACCESS_TOKEN_TYP}
    )
    refused(exchange(http, A, forged, audience=WEATHER), "invalid_request")


@pytest.mark.parametrize("typ", ["JWT", "client-authentication+jwt", "id_token+jwt", None])
def test_te2_a_subject_token_with_the_wrong_typ_is_invalid_request(
    http: httpx.Client, harness: Harness, typ: str | None
) -> None:
    """Signed with the gateway's own key and with every claim right: only ``typ`` is wrong."""
    claims = claims_of(own_token(http, A)) | {"jti": f"typ-{typ}-{time.time_ns()}"}
    token = harness.inside.sign(claims, typ)
    refused(exchange(http, A, token, audience=WEATHER), "invalid_request")


def test_te2_a_subject_token_for_another_audience_is_invalid_request(http: httpx.Client) -> None:
    """A token already exchanged for an upstream is not a token for this gateway."""
    downstream = exchanged(http, A, own_token(http, A), audience=WEATHER)
    refused(exchange(http, A, downstream, audience=WEATHER), "invalid_request")


def test_te2_an_expired_actor_token_is_invalid_request(http: httpx.Client, harness: Harness) -> None:
    actor = harness.inside.mint(client_id=A, scope="tools:read", lifetime=-5)
    response = exchange(
        http, A, own_token(http, A), audience=WEATHER, actor_token=actor, actor_token_type=ACCESS_TOKEN
    )
    refused(response, "invalid_request")


def test_te2_a_garbage_subject_token_is_invalid_request(http: httpx.Client) -> None:
    refused(exchange(http, A, "not-a-jwt", audience=WEATHER), "invalid_request")


# -- TE-3: the target -----------------------------------------------------------------------


def test_te3_an_unknown_audience_is_invalid_target(http: httpx.Client) -> None:
    refused(exchange(http, A, own_token(http, A), audience=UNKNOWN), "invalid_target")


def test_te3_an_unknown_resource_is_invalid_target(http: httpx.Client) -> None:
    refused(exchange(http, A, own_token(http, A), resource=UNKNOWN), "invalid_target")


def test_te3_a_target_with_a_fragment_is_invalid_target(http: httpx.Client) -> None:
    refused(exchange(http, A, own_token(http, A), audience=WEATHER + "#frag"), "invalid_target")


def test_te3_a_known_target_this_client_may_not_reach_is_invalid_target(http: httpx.Client) -> None:
    refused(exchange(http, C, own_token(http, C), audience=READONLY), "invalid_target")


def test_te3_an_exchange_naming_two_audiences_is_invalid_target(http: httpx.Client) -> None:
    """One token is good at one place: a client that names two targets gets neither."""
    both = exchange(http, A, own_token(http, A), audience=WEATHER, resource=READONLY)
    refused(both, "invalid_target")


def test_te3_no_target_at_all_is_invalid_request(http: httpx.Client) -> None:
    refused(exchange(http, A, own_token(http, A)), "invalid_request")


def test_te3_resource_names_the_target_like_audience(http: httpx.Client) -> None:
    token = exchanged(http, A, own_token(http, A), resource="HTTPS://Tools.Example:443/weather")
    assert claims_of(token)["aud"] == WEATHER


# -- TE-4: the scope ------------------------------------------------------------------------


def test_te4_scope_widening_is_refused(http: httpx.Client) -> None:
    narrow = own_token(http, A, scope="tools:read")
    refused(exchange(http, A, narrow, audience=WEATHER, scope="tools:read tools:call"), "invalid_scope")


def test_te4_a_scope_the_subject_holds_but_the_client_does_not_is_refused(
    http: httpx.Client, harness: Harness
) -> None:
    subject = harness.inside.mint(client_id=A, scope="tools:read tools:admin", may_act={"sub": B})
    refused(exchange(http, B, subject, audience=harness.mcp, scope="tools:admin"), "invalid_scope")
    token = exchanged(http, B, subject, audience=harness.mcp)
    assert claims_of(token)["scope"] == "tools:read"


def test_te4_a_targets_scope_list_restricts_what_is_issued(http: httpx.Client) -> None:
    subject = own_token(http, A)
    assert claims_of(subject)["scope"] == "tools:read tools:call tools:admin"
    refused(exchange(http, A, subject, audience=READONLY, scope="tools:call"), "invalid_scope")
    assert claims_of(exchanged(http, A, subject, audience=READONLY))["scope"] == "tools:read"
    assert claims_of(exchanged(http, A, subject, audience=WEATHER))["scope"] == "tools:read tools:call"


def test_te4_a_narrower_scope_is_issued_exactly(http: httpx.Client) -> None:
    token = exchanged(http, A, own_token(http, A), audience=WEATHER, scope="tools:call")
    assert claims_of(token)["scope"] == "tools:call"


def test_te4_no_scope_left_for_the_target_is_invalid_scope(http: httpx.Client) -> None:
    subject = own_token(http, A, scope="tools:admin")
    refused(exchange(http, A, subject, audience=READONLY), "invalid_scope")


# -- TE-5: who may exchange -----------------------------------------------------------------


def test_te5_a_stolen_token_cannot_be_laundered(http: httpx.Client, audit: pytest.LogCaptureFixture) -> None:
    stolen = own_token(http, A)
    response = exchange(http, B, stolen, audience=WEATHER)
    refused(response, "invalid_request")
    [line] = [line for line in audit_lines(audit, "token_exchange") if line["client_id"] == B]
    assert line["outcome"] == "refused" and line["on_behalf_of"] == A


def test_te5_the_subject_tokens_own_client_may_exchange_it(http: httpx.Client) -> None:
    assert exchange(http, A, own_token(http, A), audience=WEATHER).status_code == 200


def test_te5_may_act_lets_the_named_client_exchange(http: httpx.Client, harness: Harness) -> None:
    subject = harness.inside.mint(client_id=A, sub="alice", scope="tools:read tools:call", may_act={"sub": B})
    claims = claims_of(exchanged(http, B, subject, audience=WEATHER))
    assert claims["sub"] == "alice" and claims["client_id"] == B
    assert claims["act"] == {"sub": B}
    assert "may_act" not in claims
    refused(exchange(http, C, subject, audience=WEATHER), "invalid_request")


def test_te5_may_act_may_name_the_client_by_client_id(http: httpx.Client, harness: Harness) -> None:
    subject = harness.inside.mint(client_id=A, scope="tools:read", may_act={"client_id": C})
    assert claims_of(exchanged(http, C, subject, audience=WEATHER))["act"] == {"sub": C}


def test_te5_the_current_actor_may_exchange(http: httpx.Client, harness: Harness) -> None:
    subject = harness.inside.mint(client_id=A, sub="alice", scope="tools:read", act={"sub": C})
    claims = claims_of(exchanged(http, C, subject, audience=WEATHER))
    assert claims["act"] == {"sub": C, "act": {"sub": C}}


def test_te5_te6_a_prior_actor_deeper_in_the_chain_may_not_exchange(
    http: httpx.Client, harness: Harness
) -> None:
    """Only the outermost actor drives decisions: C, nested inside B, is no longer acting."""
    subject = harness.inside.mint(
        client_id=A, sub="alice", scope="tools:read", act={"sub": B, "act": {"sub": C}}
    )
    refused(exchange(http, C, subject, audience=WEATHER), "invalid_request")
    assert exchange(http, B, subject, audience=WEATHER).status_code == 200


def test_te5_an_exchanged_token_cannot_be_passed_on_to_a_third_client(
    http: httpx.Client, harness: Harness
) -> None:
    """``may_act`` is not carried into the exchanged token: B's result is B's alone."""
    subject = harness.inside.mint(client_id=A, sub="alice", scope="tools:read", may_act={"sub": B})
    mine = exchanged(http, B, subject, audience=harness.mcp)
    refused(exchange(http, C, mine, audience=WEATHER), "invalid_request")


# -- TE-6: act, delegation and impersonation --------------------------------------------------


def test_te6_delegation_names_the_exchanging_client_as_actor(http: httpx.Client) -> None:
    claims = claims_of(exchanged(http, A, own_token(http, A), audience=WEATHER))
    assert claims["act"] == {"sub": A}
    assert claims["aud"] == WEATHER and claims["client_id"] == A


def test_te6_an_actor_token_names_its_subject_as_actor(http: httpx.Client, harness: Harness) -> None:
    subject = harness.inside.mint(client_id=A, sub="alice", scope="tools:read", may_act={"sub": B})
    actor = harness.inside.mint(client_id=B, sub="b-worker-7", scope="tools:read")
    token = exchanged(http, B, subject, audience=WEATHER, actor_token=actor, actor_token_type=ACCESS_TOKEN)
    assert claims_of(token)["act"] == {"sub": "b-worker-7"}


def test_te6_an_actor_token_must_belong_to_the_exchanging_client(
    http: httpx.Client, harness: Harness
) -> None:
    subject = harness.inside.mint(client_id=A, sub="alice", scope="tools:read", may_act={"sub": B})
    someone_elses = own_token(http, C)
    response = exchange(
        http, B, subject, audience=WEATHER, actor_token=someone_elses, actor_token_type=ACCESS_TOKEN
    )
    refused(response, "invalid_request")


def test_te6_impersonation_only_for_a_client_the_policy_allows(http: httpx.Client, harness: Harness) -> None:
    subject = harness.inside.mint(client_id=A, sub="alice", scope="tools:read", may_act={"sub": IMPERSONATOR})
    impersonated = claims_of(exchanged(http, IMPERSONATOR, subject, audience=WEATHER))
    assert impersonated["sub"] == "alice" and "act" not in impersonated
    for client_id in (A, B, C):
        own = claims_of(exchanged(http, client_id, own_token(http, client_id), audience=WEATHER))
        assert own["act"] == {"sub": client_id}, "no impersonation without the policy"


def test_te6_impersonation_keeps_the_existing_chain(http: httpx.Client, harness: Harness) -> None:
    subject = harness.inside.mint(
        client_id=A, scope="tools:read", act={"sub": B}, may_act={"sub": IMPERSONATOR}
    )
    assert claims_of(exchanged(http, IMPERSONATOR, subject, audience=WEATHER))["act"] == {"sub": B}


def test_te6_an_impersonating_client_with_an_actor_token_delegates(http: httpx.Client) -> None:
    actor = own_token(http, IMPERSONATOR)
    token = exchanged(
        http,
        IMPERSONATOR,
        own_token(http, IMPERSONATOR),
        audience=WEATHER,
        actor_token=actor,
        actor_token_type=ACCESS_TOKEN,
    )
    assert claims_of(token)["act"] == {"sub": IMPERSONATOR}


def test_te6_a_two_step_chain_nests_the_previous_actor(http: httpx.Client, harness: Harness) -> None:
    """alice's token, already delegated to C, is exchanged by B (named in ``may_act``)."""
    subject = harness.inside.mint(
        client_id=A, sub="alice", scope="tools:read tools:call", act={"sub": C}, may_act={"sub": B}
    )
    first = claims_of(exchanged(http, B, subject, audience=harness.mcp))
    assert first["act"] == {"sub": B, "act": {"sub": C}}
    assert first["sub"] == "alice"


def test_te6_a_three_step_chain_nests_every_actor_in_order(http: httpx.Client, harness: Harness) -> None:
    """alice → B (may_act) → B's worker (actor token) → B again; each step wraps the last."""
    subject = harness.inside.mint(client_id=A, sub="alice", scope="tools:read tools:call", may_act={"sub": B})
    step1 = exchanged(http, B, subject, audience=harness.mcp)
    assert claims_of(step1)["act"] == {"sub": B}
    worker = harness.inside.mint(client_id=B, sub="b-worker", scope="tools:read")
    step2 = exchanged(http, B, step1, audience=harness.mcp, actor_token=worker, actor_token_type=ACCESS_TOKEN)
    assert claims_of(step2)["act"] == {"sub": "b-worker", "act": {"sub": B}}
    step3 = exchanged(http, B, step2, audience=WEATHER, scope="tools:read")
    claims = claims_of(step3)
    assert claims["act"] == {"sub": B, "act": {"sub": "b-worker", "act": {"sub": B}}}
    assert claims["sub"] == "alice" and claims["scope"] == "tools:read"


def test_te6_the_delegation_depth_is_capped(capped_http: httpx.Client, capped: Harness) -> None:
    subject = capped.inside.mint(client_id=A, sub="alice", scope="tools:read", may_act={"sub": B})
    one = exchanged(capped_http, B, subject, audience=capped.mcp)
    two = exchanged(capped_http, B, one, audience=capped.mcp)
    assert claims_of(two)["act"] == {"sub": B, "act": {"sub": B}}
    refused(exchange(capped_http, B, two, audience=WEATHER), "invalid_request")
    deep = capped.inside.mint(client_id=A, scope="tools:read", act={"sub": B, "act": {"sub": C}})
    refused(exchange(capped_http, B, deep, audience=WEATHER), "invalid_request")


def test_te6_impersonation_does_not_deepen_the_chain_at_the_cap(
    capped_http: httpx.Client, capped: Harness
) -> None:
    at_cap = capped.inside.mint(
        client_id=A, scope="tools:read", act={"sub": B, "act": {"sub": C}}, may_act={"sub": IMPERSONATOR}
    )
    token = exchanged(capped_http, IMPERSONATOR, at_cap, audience=WEATHER)
    assert claims_of(token)["act"] == {"sub": B, "act": {"sub": C}}


# -- TE-7: the response and the lifetime ------------------------------------------------------


def test_te7_the_response_is_an_access_token_and_no_refresh_token(http: httpx.Client) -> None:
    subject = own_token(http, A)
    response = exchange(http, A, subject, audience=WEATHER, scope="tools:read")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "issued_token_type", "token_type", "expires_in", "scope"}
    assert "refresh_token" not in body
    assert body["issued_token_type"] == ACCESS_TOKEN
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "tools:read"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    claims = claims_of(body["access_token"])
    assert claims["exp"] <= claims_of(subject)["exp"]
    assert body["expires_in"] == claims["exp"] - claims["iat"]


def test_te7_requested_token_type_jwt_is_echoed(http: httpx.Client) -> None:
    response = exchange(http, A, own_token(http, A), audience=WEATHER, requested_token_type=JWT_TYPE)
    assert response.status_code == 200 and response.json()["issued_token_type"] == JWT_TYPE


def test_te7_an_unsupported_requested_token_type_is_invalid_request(http: httpx.Client) -> None:
    response = exchange(http, A, own_token(http, A), audience=WEATHER, requested_token_type=ID_TOKEN)
    refused(response, "invalid_request")


def test_te7_exp_never_exceeds_the_subjects(http: httpx.Client, harness: Harness) -> None:
    """The gateway would grant an hour (``exchange_max_ttl``); the subject lives 20 seconds."""
    subject = harness.inside.mint(client_id=A, scope="tools:read", lifetime=20)
    response = exchange(http, A, subject, audience=WEATHER)
    assert response.status_code == 200, response.text
    assert response.json()["expires_in"] <= 20
    assert claims_of(response.json()["access_token"])["exp"] == claims_of(subject)["exp"]


def test_te7_exp_never_exceeds_the_actor_tokens(http: httpx.Client, harness: Harness) -> None:
    actor = harness.inside.mint(client_id=A, scope="tools:read", lifetime=15)
    token = exchanged(
        http, A, own_token(http, A), audience=WEATHER, actor_token=actor, actor_token_type=ACCESS_TOKEN
    )
    assert claims_of(token)["exp"] <= claims_of(actor)["exp"]


def test_te7_exp_never_grows_along_a_chain(http: httpx.Client, harness: Harness) -> None:
    token = harness.inside.mint(client_id=A, sub="alice", scope="tools:read", may_act={"sub": B}, lifetime=90)
    expiries = [claims_of(token)["exp"]]
    for _ in range(3):
        token = exchanged(http, B, token, audience=harness.mcp)
        expiries.append(claims_of(token)["exp"])
    assert expiries == sorted(expiries, reverse=True)


def test_te7_exchange_max_ttl_caps_the_lifetime(capped_http: httpx.Client, capped: Harness) -> None:
    """``exchange_max_ttl`` (3600 here) bounds a subject that lives longer."""
    subject = capped.inside.mint(client_id=A, scope="tools:read", lifetime=7200)
    response = exchange(capped_http, A, subject, audience=WEATHER)
    assert response.status_code == 200 and response.json()["expires_in"] <= 3600


# -- RV-1: revocation cascades to exchanged tokens --------------------------------------------


def test_rv1_revoking_the_subject_revokes_exchanged_tokens_and_their_children(
    http: httpx.Client, harness: Harness
) -> None:
    original = harness.inside.mint(
        client_id=A, sub="alice", scope="tools:read tools:call", may_act={"sub": B}
    )
    child = exchanged(http, B, original, audience=harness.mcp)
    grandchild = exchanged(http, B, child, audience=WEATHER)
    downstream = exchanged(http, B, child, audience=READONLY)
    for token in (child, grandchild, downstream):
        assert introspect(http, B, token)["active"] is True
    assert introspect(http, A, original)["active"] is True

    assert http.post("/revoke", data={"token": original}, auth=basic(A)).status_code == 200

    assert introspect(http, A, original) == {"active": False}
    for token in (child, grandchild, downstream):
        assert introspect(http, B, token) == {"active": False}
    refused(exchange(http, B, child, audience=WEATHER), "invalid_request")


def test_rv1_revoking_an_exchanged_token_leaves_its_parent_alone(
    http: httpx.Client, harness: Harness
) -> None:
    parent = own_token(http, A)
    child = exchanged(http, A, parent, audience=harness.mcp)
    grandchild = exchanged(http, A, child, audience=WEATHER)
    assert http.post("/revoke", data={"token": child}, auth=basic(A)).status_code == 200
    assert introspect(http, A, child) == {"active": False}
    assert introspect(http, A, grandchild) == {"active": False}
    assert introspect(http, A, parent)["active"] is True


def test_rv1_another_client_cannot_revoke_the_subject(http: httpx.Client, harness: Harness) -> None:
    original = harness.inside.mint(client_id=A, sub="alice", scope="tools:read", may_act={"sub": B})
    child = exchanged(http, B, original, audience=WEATHER)
    assert http.post("/revoke", data={"token": original}, auth=basic(B)).status_code == 200
    assert introspect(http, A, original)["active"] is True
    assert introspect(http, B, child)["active"] is True


# -- audit ----------------------------------------------------------------------------------


def test_audit_every_exchange_granted_or_refused_and_never_a_token(
    http: httpx.Client, harness: Harness, audit: pytest.LogCaptureFixture
) -> None:
    subject = harness.inside.mint(client_id=A, sub="alice", scope="tools:read tools:call", may_act={"sub": B})
    granted = exchanged(http, B, subject, audience=WEATHER, scope="tools:read")
    refused(exchange(http, C, subject, audience=WEATHER), "invalid_request")  # TE-5
    refused(exchange(http, B, subject, audience=READONLY, scope="tools:call"), "invalid_scope")
    refused(exchange(http, B, subject, audience=UNKNOWN), "invalid_target")
    refused(exchange(http, B, "not-a-jwt", audience=WEATHER), "invalid_request")
    refused(exchange(http, B, subject, audience=WEATHER, actor_token=subject), "invalid_request")

    lines = audit_lines(audit, "token_exchange")
    assert [(line["client_id"], line["outcome"]) for line in lines] == [
        (B, "granted"),
        (C, "refused"),
        (B, "refused"),
        (B, "refused"),
        (B, "refused"),
        (B, "refused"),
    ]
    ok = lines[0]
    assert ok["sub"] == "alice" and ok["on_behalf_of"] == A and ok["actor"] == B
    assert ok["audience"] == [WEATHER] and ok["scope"] == "tools:read"
    assert ok["jti"] == claims_of(granted)["jti"]
    assert lines[1]["error"] == "invalid_request" and lines[1]["sub"] == "alice"
    assert lines[2]["error"] == "invalid_scope" and lines[2]["audience"] == [READONLY]
    assert lines[2]["scope"] == "tools:call"
    assert lines[3]["error"] == "invalid_target"
    assert all("reason" in line for line in lines[1:])

    text = audit.text + "".join(r.getMessage() for r in audit.records)
    assert "eyJ" not in text
    for token in (subject, granted):
        assert token not in text and token.split(".")[2] not in text


def test_audit_a_client_without_the_grant_is_recorded_as_refused(
    http: httpx.Client, audit: pytest.LogCaptureFixture
) -> None:
    refused(
        exchange(http, NO_EXCHANGE, own_token(http, NO_EXCHANGE), audience=WEATHER), "unauthorized_client"
    )
    [line] = audit_lines(audit, "token_refused")
    assert line["grant"] == GRANT and line["error"] == "unauthorized_client"
    assert "eyJ" not in audit.text
