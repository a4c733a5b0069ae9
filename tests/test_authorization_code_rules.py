"""Each rule of the authorization code flow, proven on a running gateway.

CO-1 … CO-8, one named test (or parametrized family) per rule; the refresh-token rules
are in ``test_refresh_token_rules.py``. The gateway runs under uvicorn on a SQLite file; the
concurrency tests also run on a private Redis server. A headless person
(:class:`tests.support.browser.Person`) signs in and consents; the test plays the public client
``desk`` (:mod:`tests.support.code_flow`) against ``/authorize``, ``/token`` and ``/introspect``.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx2
import pytest
from starlette.responses import Response

from gateway.clock import FrozenClock
from gateway.oauth.authorize.browser_state import Cookies
from gateway.store.factory import open_store
from tests.support import redis_servers
from tests.support.authorization_code import new_verifier, s256
from tests.support.browser import Person, form_fields
from tests.support.code_flow import (
    CB,
    DESCRIPTIONS,
    DESK,
    DESK_NAME,
    OTHER,
    OTHER_NAME,
    SCOPES,
    STATE,
    WEATHER,
    WEB,
    WEB_CB,
    authorize_url,
    authorized,
    introspect,
    on_clock,
    redeem,
    refresh,
    settings_for,
    sqlite_url,
    tokens_for,
)
from tests.support.gateway_server import RACE_STORE_DEADLINE_MS, RunningGateway, running_gateway
from tests.support.http_clients import http_client
from tests.support.oauth_errors import assert_error_page, error_of
from tests.support.tokens import claims_of
from tests.support.users import PASSWORD, signed_up

RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
ERROR_PAGE_TITLE = "<h1>This request cannot be completed</h1>"


# -- the gateway -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """One gateway for the module; each test signs up a user of its own."""
    with running_gateway(settings_for(sqlite_url(tmp_path_factory))) as running:
        yield running


@pytest.fixture
def base_url(gateway: RunningGateway) -> str:
    """``http`` speaks to this module's gateway."""
    return gateway.url


# -- the client's side of the protocol, beyond the code flow's own helpers ------------------


def redirect_params(response: httpx2.Response, redirect_uri: str = CB) -> dict[str, str]:
    """The query of a redirect back to the client (each parameter exactly once)."""
    assert response.status_code == 303, (response.status_code, response.text[:500])
    location = response.headers["location"]
    assert location.startswith(redirect_uri + "?"), location
    query = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in query.values()), query
    return {k: v[0] for k, v in query.items()}


def set_cookies(response: httpx2.Response) -> dict[str, str]:
    """Cookie name -> the whole ``Set-Cookie`` line."""
    lines = response.headers.get_list("set-cookie")
    return {line.split("=", 1)[0]: line for line in lines}


async def open_login_page(person: Person, url: str) -> tuple[httpx2.Response, str, dict[str, str]]:
    response = await person.http.get(url)
    assert response.status_code == 200 and 'name="password"' in response.text, response.text[:500]
    action, hidden, _ = form_fields(response.text)
    return response, action, hidden


async def open_consent_page(
    gw: RunningGateway, person: Person, url: str
) -> tuple[httpx2.Response, str, dict[str, str], list[str]]:
    """Sign in by hand up to the consent page: (page, form action, hidden fields, scopes)."""
    _, action, hidden = await open_login_page(person, url)
    login = await person.http.post(
        gw.endpoint(action), data={**hidden, "username": person.username, "password": PASSWORD}
    )
    assert login.status_code == 303, login.text[:500]
    page = await person.http.get(gw.endpoint(login.headers["location"]))
    assert page.status_code == 200 and 'name="decision"' in page.text, page.text[:500]
    action, hidden, scopes = form_fields(page.text)
    return page, action, hidden, scopes


def consent_pages(person: Person) -> int:
    return sum(1 for page in person.pages if 'name="decision"' in page.text)


# == CO-1: response_type=code only; PKCE required, S256 only, 43-128 unreserved characters ======


@pytest.mark.anyio
@pytest.mark.parametrize("response_type", ["token", "code token", "code id_token", "id_token", "", None])
async def test_co1_a_response_type_other_than_code_is_refused(
    gateway: RunningGateway, http: httpx2.AsyncClient, response_type: str | None
) -> None:
    response = await http.get(authorize_url(gateway, response_type=response_type))
    params = redirect_params(response)
    assert params["error"] == "unsupported_response_type"
    assert params["state"] == STATE and params["iss"] == gateway.issuer
    assert "code" not in params


@pytest.mark.anyio
@pytest.mark.parametrize(
    "pkce",
    [
        pytest.param({"code_challenge": None}, id="no-challenge"),
        pytest.param({"code_challenge": None, "code_challenge_method": None}, id="no-pkce-at-all"),
        pytest.param({"code_challenge": ""}, id="empty-challenge"),
        pytest.param({"code_challenge_method": "plain"}, id="plain"),
        pytest.param({"code_challenge_method": None}, id="method-missing-means-plain"),
        pytest.param({"code_challenge_method": "s256"}, id="method-case"),
        pytest.param({"code_challenge": "a" * 42}, id="42-chars"),
        pytest.param({"code_challenge": "a" * 129}, id="129-chars"),
        pytest.param({"code_challenge": "a" * 42 + "+"}, id="not-unreserved"),
    ],
)
async def test_co1_pkce_s256_is_required(
    gateway: RunningGateway, http: httpx2.AsyncClient, pkce: dict[str, str | None]
) -> None:
    response = await http.get(authorize_url(gateway, **pkce))
    params = redirect_params(response)
    assert params["error"] == "invalid_request", params
    assert params["state"] == STATE and params["iss"] == gateway.issuer
    assert "code" not in params


@pytest.mark.anyio
@pytest.mark.parametrize("length", [43, 128])
async def test_co1_challenges_of_43_and_128_characters_are_accepted(
    gateway: RunningGateway, http: httpx2.AsyncClient, length: int
) -> None:
    """The bounds of the rule, so the refusals above are not refusing everything."""
    response = await http.get(authorize_url(gateway, code_challenge="A" * length))
    assert response.status_code == 200 and 'name="password"' in response.text


# == CO-2: the verifier is checked (no downgrade to a verifier-less redemption) =================


@pytest.mark.anyio
async def test_co2_a_token_request_without_a_verifier_is_refused(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        code, verifier = await authorized(gateway, person)
    assert error_of(await redeem(http, code, None)) == "invalid_grant"
    assert error_of(await redeem(http, code, "")) == "invalid_grant"
    # The refusal is the missing verifier's: with it, the (unconsumed) code goes through.
    assert (await redeem(http, code, verifier)).status_code == 200


@pytest.mark.anyio
async def test_co2_a_wrong_verifier_is_refused(gateway: RunningGateway, http: httpx2.AsyncClient) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        code, verifier = await authorized(gateway, person)
    assert error_of(await redeem(http, code, new_verifier())) == "invalid_grant"
    # The challenge itself is not a verifier (a "plain" downgrade), nor is a too-short verifier.
    assert error_of(await redeem(http, code, s256(verifier))) == "invalid_grant"
    assert error_of(await redeem(http, code, verifier[:42])) == "invalid_grant"


@pytest.mark.anyio
async def test_co2_the_rfc7636_appendix_b_vector_works_end_to_end(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    assert s256(RFC7636_VERIFIER) == RFC7636_CHALLENGE
    async with signed_up(gateway.settings.server.store) as person:
        outcome = await person.authorize(authorize_url(gateway, code_challenge=RFC7636_CHALLENGE))
    assert outcome.code
    response = await redeem(http, outcome.code, RFC7636_VERIFIER)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


# == CO-3: codes are single-use, short-lived and bound ==========================================


@pytest.mark.anyio
async def test_co3_a_valid_replay_is_refused_and_revokes_what_the_first_redemption_issued(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        code, verifier = await authorized(gateway, person)
    first = await redeem(http, code, verifier)
    assert first.status_code == 200, first.text
    tokens = first.json()
    live = await introspect(http, tokens["access_token"])  # a public client may introspect its own
    assert live["active"] is True and live["client_id"] == DESK

    assert error_of(await redeem(http, code, verifier)) == "invalid_grant"

    assert await introspect(http, tokens["access_token"]) == {"active": False}
    assert error_of(await refresh(http, tokens["refresh_token"])) == "invalid_grant"


@pytest.mark.anyio
async def test_co3_an_invalid_replay_is_refused_without_revoking_anything(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        code, verifier = await authorized(gateway, person)
    first = await redeem(http, code, verifier)
    assert first.status_code == 200, first.text
    tokens = first.json()

    assert error_of(await redeem(http, code, new_verifier())) == "invalid_grant"
    assert error_of(await redeem(http, code, None)) == "invalid_grant"
    assert error_of(await redeem(http, code, verifier, client_id=OTHER)) == "invalid_grant"
    assert error_of(await redeem(http, code, verifier, redirect_uri="http://127.0.0.1:8888/cb")) == (
        "invalid_grant"
    )

    assert (await introspect(http, tokens["access_token"]))["active"] is True
    assert (await refresh(http, tokens["refresh_token"])).status_code == 200


@pytest.mark.anyio
async def test_co3_a_code_is_bound_to_its_client(gateway: RunningGateway, http: httpx2.AsyncClient) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        code, verifier = await authorized(gateway, person)
    assert error_of(await redeem(http, code, verifier, client_id=OTHER)) == "invalid_grant"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "presented",
    [
        pytest.param(None, id="missing"),
        pytest.param("http://127.0.0.1:8888/cb", id="loopback-port-variant"),
        pytest.param("http://127.0.0.1:9999/cb/", id="trailing-slash"),
        pytest.param(WEB_CB, id="another-registered-uri"),
    ],
)
async def test_co3_a_code_is_bound_to_its_redirect_uri(
    gateway: RunningGateway, http: httpx2.AsyncClient, presented: str | None
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        code, verifier = await authorized(gateway, person)
    assert error_of(await redeem(http, code, verifier, redirect_uri=presented)) == "invalid_grant"


@pytest.mark.anyio
async def test_co3_a_code_is_bound_to_its_resource(gateway: RunningGateway, http: httpx2.AsyncClient) -> None:
    mcp = gateway.settings.mcp.resource
    async with signed_up(gateway.settings.server.store) as person:
        weather_code, weather_verifier = await authorized(gateway, person, resource=WEATHER)
        mcp_code, mcp_verifier = await authorized(gateway, person)
    assert error_of(await redeem(http, weather_code, weather_verifier, resource=mcp)) == "invalid_target"
    assert error_of(await redeem(http, mcp_code, mcp_verifier, resource=WEATHER)) == "invalid_target"
    # Two resources at once are not one resource either.
    both = [
        ("grant_type", "authorization_code"),
        ("code", weather_code),
        ("client_id", DESK),
        ("redirect_uri", CB),
        ("code_verifier", weather_verifier),
        ("resource", WEATHER),
        ("resource", mcp),
    ]
    response = await http.post(
        "/token", content=urlencode(both), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert error_of(response) in ("invalid_target", "invalid_request")


@pytest.mark.anyio
async def test_co3_an_expired_code_is_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    clock = FrozenClock(time.time())
    settings = settings_for(sqlite_url(tmp_path_factory), authorization_code_ttl=1)
    with running_gateway(settings, build=on_clock(clock)) as gw:
        async with http_client(gw.url) as http, signed_up(gw.settings.server.store) as person:
            code, verifier = await authorized(gw, person)
            clock.advance(1.5)
            assert error_of(await redeem(http, code, verifier)) == "invalid_grant"
            # The same flow redeemed at once works: it is the lifetime that refused the code.
            code, verifier = await authorized(gw, person)
            assert (await redeem(http, code, verifier)).status_code == 200


@pytest.mark.anyio
async def test_co3_of_200_concurrent_redemptions_of_one_code_exactly_one_succeeds(store_url: str) -> None:
    with running_gateway(settings_for(store_url, store_deadline_ms=RACE_STORE_DEADLINE_MS)) as gw:
        async with signed_up(gw.settings.server.store) as person:
            code, verifier = await authorized(gw, person)
        statuses: list[int] = []
        errors: list[str] = []
        limits = httpx2.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx2.AsyncClient(base_url=gw.url, timeout=60, limits=limits) as http:

            async def attempt() -> None:
                response = await redeem(http, code, verifier)
                statuses.append(response.status_code)
                if response.status_code != 200:
                    errors.append(response.json()["error"])

            async with anyio.create_task_group() as group:
                for _ in range(200):
                    group.start_soon(attempt)
    assert statuses.count(200) == 1, sorted(set(statuses))
    assert set(errors) == {"invalid_grant"}, set(errors)


@pytest.mark.anyio
@pytest.mark.redis
async def test_co3_a_valid_redemption_racing_the_first_still_revokes_what_it_issued(
    redis_server: redis_servers.RedisServer,
) -> None:
    with running_gateway(settings_for(redis_server.url)) as gw:
        async with http_client(gw.url) as http, signed_up(gw.settings.server.store) as person:
            for _ in range(5):
                code, verifier = await authorized(gw, person)
                responses: list[httpx2.Response] = []

                async def attempt(code: str, verifier: str) -> None:
                    responses.append(await redeem(http, code, verifier))

                async with anyio.create_task_group() as group:
                    group.start_soon(attempt, code, verifier)
                    group.start_soon(attempt, code, verifier)
                winners = [r.json() for r in responses if r.status_code == 200]
                assert len(winners) == 1
                assert await introspect(http, winners[0]["access_token"]) == {"active": False}
                assert error_of(await refresh(http, winners[0]["refresh_token"])) == "invalid_grant"


# == CO-4: exact redirect URIs; an error page, never a redirect, until they are known good =======


REDIRECT_VARIANTS = [
    pytest.param(DESK, "http://127.0.0.1:9999/cb/", id="trailing-slash"),
    pytest.param(DESK, "http://127.0.0.1:9999/CB", id="loopback-path-case"),
    pytest.param(WEB, "https://APP.example/cb", id="host-case"),
    pytest.param(WEB, "https://app.example/Cb", id="path-case"),
    pytest.param(WEB, "HTTPS://app.example/cb", id="scheme-case"),
    pytest.param(DESK, "http://127.0.0.1:9999/cb?x=1", id="loopback-extra-query"),
    pytest.param(WEB, "https://app.example/cb?x=1", id="extra-query"),
    pytest.param(WEB, "https://app.example/cb?", id="empty-query"),
    pytest.param(DESK, "http://user@127.0.0.1:9999/cb", id="loopback-userinfo"),
    pytest.param(WEB, "https://user:pw@app.example/cb", id="userinfo"),
    pytest.param(WEB, "https://app.example:8443/cb", id="non-loopback-port"),
    pytest.param(WEB, "https://app.example:443/cb", id="explicit-default-port"),
    pytest.param(WEB, "https://app.example/cb#x", id="fragment"),
    pytest.param(WEB, "https://app.example/cb#", id="empty-fragment"),
    pytest.param(DESK, "http://127.0.0.1:9999/cb#x", id="loopback-fragment"),
    pytest.param(DESK, "http://127.0.0.1:12345/cb#x", id="loopback-port-and-fragment"),
    pytest.param(DESK, "http://localhost:9999/cb", id="another-loopback-host"),
    pytest.param(DESK, "https://127.0.0.1:9999/cb", id="loopback-scheme-change"),
    pytest.param(WEB, "http://app.example/cb", id="https-to-http"),
    pytest.param(WEB, "https://app.example.evil.example/cb", id="suffix-host"),
    pytest.param(WEB, "https://app.example/cb/../cb", id="dot-segments"),
    pytest.param(DESK, WEB_CB, id="another-clients-uri"),
    pytest.param(DESK, "", id="empty"),
    pytest.param(DESK, None, id="missing"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("client_id", "redirect_uri"), REDIRECT_VARIANTS)
async def test_co4_an_unregistered_redirect_uri_gets_an_error_page(
    gateway: RunningGateway, http: httpx2.AsyncClient, client_id: str, redirect_uri: str | None
) -> None:
    url = authorize_url(gateway, client_id=client_id, redirect_uri=redirect_uri)
    assert_error_page(await http.get(url), ERROR_PAGE_TITLE)
    # Not even an error is sent to it.
    assert_error_page(
        await http.get(
            authorize_url(gateway, client_id=client_id, redirect_uri=redirect_uri, response_type="token")
        ),
        ERROR_PAGE_TITLE,
    )


@pytest.mark.anyio
@pytest.mark.parametrize("client_id", ["no-such-client", "", None, "DESK"])
async def test_co4_an_unknown_client_gets_an_error_page(
    gateway: RunningGateway, http: httpx2.AsyncClient, client_id: str | None
) -> None:
    assert_error_page(await http.get(authorize_url(gateway, client_id=client_id)), ERROR_PAGE_TITLE)


@pytest.mark.anyio
async def test_co4_a_loopback_redirect_uri_may_change_its_port(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    moved = "http://127.0.0.1:12345/cb"
    async with signed_up(gateway.settings.server.store) as person:
        verifier = new_verifier()
        outcome = await person.authorize(
            authorize_url(gateway, redirect_uri=moved, code_challenge=s256(verifier))
        )
    assert outcome.location is not None and outcome.location.startswith(moved + "?"), outcome
    assert outcome.code and outcome.params["iss"] == gateway.issuer
    response = await redeem(http, outcome.code, verifier, redirect_uri=moved)
    assert response.status_code == 200, response.text


# == CO-5: iss (RFC 9207) in every authorization response, errors included =======================


@pytest.mark.anyio
async def test_co5_iss_is_in_every_authorization_response(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    outcomes: dict[str, dict[str, str]] = {}
    async with signed_up(gateway.settings.server.store) as person:
        outcomes["denied"] = (await person.authorize(authorize_url(gateway), allow=False)).params
        outcomes["nothing ticked"] = (await person.authorize(authorize_url(gateway), untick=SCOPES)).params
        outcomes["granted"] = (await person.authorize(authorize_url(gateway))).params
        outcomes["remembered"] = (await person.authorize(authorize_url(gateway))).params
    for name, url in {
        "invalid_scope": authorize_url(gateway, scope="admin"),
        "unsupported_response_type": authorize_url(gateway, response_type="token"),
        "invalid_request": authorize_url(gateway, code_challenge_method="plain"),
        "invalid_target": authorize_url(gateway, resource="https://unknown.example/mcp"),
        "request object": authorize_url(gateway, request="eyJhbGciOiJub25lIn0.e30."),
        "repeated parameter": authorize_url(gateway) + "&scope=tools:read",
    }.items():
        outcomes[name] = redirect_params(await http.get(url))

    assert outcomes["denied"]["error"] == outcomes["nothing ticked"]["error"] == "access_denied"
    assert outcomes["granted"]["code"] and outcomes["remembered"]["code"]
    assert outcomes["invalid_scope"]["error"] == "invalid_scope"
    assert outcomes["request object"]["error"] == "request_not_supported"
    assert outcomes["repeated parameter"]["error"] == "invalid_request"
    for name, params in outcomes.items():
        assert params.get("iss") == gateway.issuer, (name, params)
        if name != "repeated parameter":  # which state, of two? none is echoed
            assert params.get("state") == STATE, (name, params)


# == CO-6: resource indicators (RFC 8707) ========================================================


@pytest.mark.anyio
@pytest.mark.parametrize(
    "resource",
    [
        pytest.param(WEATHER + "#frag", id="fragment"),
        pytest.param(WEATHER + "#", id="empty-fragment"),
        pytest.param("/mcp", id="relative"),
        pytest.param("https://unknown.example/mcp", id="unknown"),
    ],
)
async def test_co6_a_bad_resource_is_invalid_target(
    gateway: RunningGateway, http: httpx2.AsyncClient, resource: str
) -> None:
    params = redirect_params(await http.get(authorize_url(gateway, resource=resource)))
    assert params["error"] == "invalid_target"
    assert params["state"] == STATE and params["iss"] == gateway.issuer


@pytest.mark.anyio
async def test_co6_the_token_audience_is_the_resource(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        weather = await tokens_for(gateway, http, person, resource=WEATHER)
        default = await tokens_for(gateway, http, person)
    assert claims_of(weather["access_token"])["aud"] == WEATHER
    assert (await introspect(http, weather["access_token"]))["aud"] == WEATHER
    assert claims_of(default["access_token"])["aud"] == gateway.settings.mcp.resource
    # And the refresh keeps it.
    refreshed = await refresh(http, weather["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert claims_of(refreshed.json()["access_token"])["aud"] == WEATHER


# == CO-7: 303, anti-framing, no referrer, no caching, CSRF, no CORS ============================


@pytest.mark.anyio
async def test_co7_the_login_post_is_answered_with_303(gateway: RunningGateway) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        _, action, hidden = await open_login_page(person, authorize_url(gateway))
        login = await person.http.post(
            gateway.endpoint(action), data={**hidden, "username": person.username, "password": PASSWORD}
        )
    assert login.status_code == 303
    assert login.headers["location"].startswith("/authorize/consent?")


@pytest.mark.anyio
async def test_co7_login_and_consent_pages_refuse_framing_referrers_and_caching(
    gateway: RunningGateway,
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        login, _, _ = await open_login_page(person, authorize_url(gateway))
        consent, _, _, _ = await open_consent_page(gateway, person, authorize_url(gateway))
    for page in (login, consent):
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"


@pytest.mark.anyio
async def test_co7_authorize_sends_no_cors_headers(gateway: RunningGateway, http: httpx2.AsyncClient) -> None:
    origin = {"origin": "https://evil.example"}
    responses = [
        await http.get(authorize_url(gateway), headers=origin),  # the sign-in page
        await http.get(authorize_url(gateway, response_type="token"), headers=origin),  # a redirect
        await http.get(authorize_url(gateway, client_id="nobody"), headers=origin),  # an error page
        await http.request(
            "OPTIONS",
            gateway.endpoint("/authorize"),
            headers={**origin, "access-control-request-method": "GET"},
        ),
    ]
    for response in responses:
        assert not any(name.lower().startswith("access-control-") for name in response.headers), (
            response.status_code,
            response.headers,
        )


@pytest.mark.anyio
async def test_co7_a_consent_post_without_the_binder_cookie_is_refused(gateway: RunningGateway) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        _, action, hidden, scopes = await open_consent_page(gateway, person, authorize_url(gateway))
        form = {**hidden, "decision": "allow", "scope": scopes}
        session = person.http.cookies["mcpgw-session"]
        async with http_client() as signed_in_elsewhere:
            refused = await signed_in_elsewhere.post(
                gateway.endpoint(action), data=form, headers={"cookie": f"mcpgw-session={session}"}
            )
        async with http_client() as fresh:
            refused_too = await fresh.post(gateway.endpoint(action), data=form)
        for response in (refused, refused_too):
            assert response.status_code == 403 and "location" not in response.headers
            assert response.headers["content-type"].startswith("text/html")
        # The same form from the browser it was issued to goes through.
        allowed = await person.http.post(gateway.endpoint(action), data=form)
        assert redirect_params(allowed)["code"]


@pytest.mark.anyio
async def test_co7_a_consent_post_with_a_wrong_csrf_token_is_refused(gateway: RunningGateway) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        _, action, hidden, scopes = await open_consent_page(gateway, person, authorize_url(gateway))
        for csrf in (secrets.token_urlsafe(24), "", None):
            forged: dict[str, Any] = {**hidden, "decision": "allow", "scope": scopes}
            if csrf is None:
                del forged["csrf"]
            else:
                forged["csrf"] = csrf
            response = await person.http.post(gateway.endpoint(action), data=forged)
            assert response.status_code == 403 and "location" not in response.headers, csrf
        allowed = await person.http.post(
            gateway.endpoint(action), data={**hidden, "decision": "allow", "scope": scopes}
        )
        assert redirect_params(allowed)["code"]


@pytest.mark.anyio
async def test_co7_a_login_post_from_another_browser_is_refused(gateway: RunningGateway) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        _, action, hidden = await open_login_page(person, authorize_url(gateway))
        credentials = {**hidden, "username": person.username, "password": PASSWORD}
        async with http_client() as other_browser:
            response = await other_browser.post(gateway.endpoint(action), data=credentials)
        assert response.status_code == 403 and "location" not in response.headers
        assert "mcpgw-session" not in set_cookies(response)
        # A wrong CSRF token in the right browser is refused too.
        forged = await person.http.post(gateway.endpoint(action), data={**credentials, "csrf": "x" * 32})
        assert forged.status_code == 403 and "mcpgw-session" not in set_cookies(forged)


# == CO-8: consent per user, client and scope set, on a page that names them =====================


@pytest.mark.anyio
async def test_co8_the_consent_page_names_the_client_the_redirect_host_and_every_scope(
    gateway: RunningGateway,
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        page, _, _, scopes = await open_consent_page(gateway, person, authorize_url(gateway))
    text = page.text
    assert escape(DESK_NAME) in text and f"<code>{DESK}</code>" in text
    assert "127.0.0.1:9999" in text
    assert scopes == list(SCOPES)
    for scope, description in DESCRIPTIONS.items():
        assert f"<code>{escape(scope)}</code> — {escape(description)}" in text


@pytest.mark.anyio
async def test_co8_unticking_a_scope_removes_it_from_the_token(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        verifier = new_verifier()
        outcome = await person.authorize(
            authorize_url(gateway, code_challenge=s256(verifier)), untick=("tools:call",)
        )
    assert outcome.code
    response = await redeem(http, outcome.code, verifier)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "tools:read"
    assert claims_of(response.json()["access_token"])["scope"] == "tools:read"
    # The refresh token cannot bring the unticked scope back (RT-2).
    assert (
        error_of(await refresh(http, response.json()["refresh_token"], scope="tools:call")) == "invalid_scope"
    )


@pytest.mark.anyio
async def test_co8_consent_is_remembered_per_user_and_client(gateway: RunningGateway) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        await authorized(gateway, person)
        assert consent_pages(person) == 1
        # Same browser, same user, same client, same scopes: straight back with a code.
        again = await person.authorize(authorize_url(gateway))
        assert again.code and consent_pages(person) == 1
        # authorize, login POST, consent GET, consent POST; then only the authorize GET (303).
        assert len(person.pages) == 5 and person.pages[-1].status_code == 303
        # The same user in a new browser signs in again but is not asked again.
        elsewhere = Person(person.username, PASSWORD)
        try:
            assert (await elsewhere.authorize(authorize_url(gateway))).code
            assert consent_pages(elsewhere) == 0
        finally:
            await elsewhere.aclose()
        # Another user of the same client is asked.
        async with signed_up(gateway.settings.server.store) as someone_else:
            await authorized(gateway, someone_else)
            assert consent_pages(someone_else) == 1


@pytest.mark.anyio
async def test_co8_a_request_for_a_new_scope_asks_for_consent_again(gateway: RunningGateway) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        await authorized(gateway, person, scope="tools:read")
        assert consent_pages(person) == 1
        await authorized(gateway, person, scope="tools:read tools:call")
        assert consent_pages(person) == 2
        assert form_fields(person.pages[-2].text)[2] == ["tools:read", "tools:call"]
        # A subset of what was consented to is not asked again.
        await authorized(gateway, person, scope="tools:read")
        assert consent_pages(person) == 2


@pytest.mark.anyio
async def test_co8_a_request_for_an_unticked_scope_asks_again(gateway: RunningGateway) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        outcome = await person.authorize(authorize_url(gateway), untick=("tools:call",))
        assert outcome.code and consent_pages(person) == 1
        await authorized(gateway, person, scope="tools:call")
        assert consent_pages(person) == 2


@pytest.mark.anyio
async def test_co8_consent_for_one_client_does_not_carry_over_to_another(gateway: RunningGateway) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        await authorized(gateway, person, client_id=DESK)
        assert consent_pages(person) == 1
        await authorized(gateway, person, client_id=OTHER)
        assert consent_pages(person) == 2
        consent = [page.text for page in person.pages if 'name="decision"' in page.text][-1]
        assert OTHER_NAME in consent and f"<code>{OTHER}</code>" in consent


@pytest.mark.anyio
async def test_co8_browser_cookies_are_httponly_and_samesite_lax(gateway: RunningGateway) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        login_page, action, hidden = await open_login_page(person, authorize_url(gateway))
        login = await person.http.post(
            gateway.endpoint(action), data={**hidden, "username": person.username, "password": PASSWORD}
        )
    binder = set_cookies(login_page)["mcpgw-authz"]
    session = set_cookies(login)["mcpgw-session"]
    for line in (binder, session):
        attributes = {part.strip().lower() for part in line.split(";")[1:]}
        assert "httponly" in attributes and "samesite=lax" in attributes and "path=/" in attributes, line
        assert not any(a.startswith("domain=") for a in attributes), line
        value = line.split("=", 1)[1].split(";", 1)[0]
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), line  # a random 256-bit handle, nothing else


def test_co8_on_https_cookies_are_host_prefixed_and_secure() -> None:
    cookies = Cookies(secure=True)
    assert cookies.session.startswith("__Host-") and cookies.binder.startswith("__Host-")
    response = Response()
    cookies.set(response, cookies.session, "handle", 600)
    cookies.set(response, cookies.binder, "binder", 600)
    lines = [value.decode() for name, value in response.raw_headers if name == b"set-cookie"]
    assert len(lines) == 2
    for line in lines:
        attributes = {part.strip().lower() for part in line.split(";")[1:]}
        assert line.startswith("__Host-")
        assert {"secure", "httponly", "samesite=lax", "path=/"} <= attributes, line
        assert not any(a.startswith("domain=") for a in attributes), line  # required by __Host-


def test_co8_an_https_issuer_uses_host_prefixed_secure_cookies() -> None:
    """The wiring: an https issuer gets the ``__Host-`` cookies (served in-process, no TLS needed)."""
    from starlette.testclient import TestClient

    from gateway.app import create_app
    from gateway.composition import build_gateway

    settings = settings_for("memory://", public_url="https://gw.example")(443)
    app = create_app(build_gateway(settings, open_store(settings.server.store)))
    url = authorize_url(RunningGateway(settings), client_id=WEB, redirect_uri=WEB_CB)
    assert url.startswith("https://gw.example/authorize?")
    with TestClient(app, base_url="https://gw.example", follow_redirects=False) as client:
        response = client.get(url)
    assert response.status_code == 200, response.text[:500]
    line = response.headers["set-cookie"]
    assert line.startswith("__Host-mcpgw-authz=")
    assert "secure" in {part.strip().lower() for part in line.split(";")[1:]}


# == sign-in ======================================================================================


@pytest.mark.anyio
@pytest.mark.parametrize("wrong", ["password", "username"])
async def test_a_wrong_password_shows_the_sign_in_page_again(gateway: RunningGateway, wrong: str) -> None:
    async with signed_up(gateway.settings.server.store) as person:
        _, action, hidden = await open_login_page(person, authorize_url(gateway))
        credentials = {
            **hidden,
            "username": person.username if wrong == "password" else "nobody-" + person.username,
            "password": PASSWORD if wrong == "username" else PASSWORD + "!",
        }
        response = await person.http.post(gateway.endpoint(action), data=credentials)
        assert response.status_code == 401 and "location" not in response.headers
        assert 'name="password"' in response.text
        assert 'role="alert">Wrong username or password.</p>' in response.text
        assert "mcpgw-session" not in set_cookies(response)
        assert "mcpgw-session" not in person.http.cookies
        assert response.headers["x-frame-options"] == "DENY"
        # The re-shown form still works with the right password.
        action, hidden, _ = form_fields(response.text)
        retry = await person.http.post(
            gateway.endpoint(action), data={**hidden, "username": person.username, "password": PASSWORD}
        )
        assert retry.status_code == 303 and "mcpgw-session" in set_cookies(retry)
