"""The gateway's MCP endpoint as a protected resource: SPEC-NOTES PR-1 … PR-7 and its Transport rules.

Each test is named after the rule it proves and speaks plain HTTP (``httpx2``) to a gateway with
the example upstream (``examples/upstream_server.py``) behind it. Tokens come from the gateway's
own ``/token`` (client_credentials + private_key_jwt); tokens no client can obtain over HTTP
(expired, another issuer) are signed with the gateway's own keys.

No rule here is about the socket, so the gateway and its upstream run in the test's process. The
gateway is configured as one bound to loopback port ``PORT`` (the default deployment), and the
client addresses it there, so every request carries the ``Host`` a real client would send.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import jwt
import pytest

from gateway.config import settings_from
from gateway.settings import Settings
from gateway.upstream.asgi_transport import AsgiTransport
from tests.support.agents import AgentKey, agent_token, revoke
from tests.support.gateway_tokens import mint
from tests.support.inprocess import InProcessGateway, gateway_in_front_of_weather, http_reaches
from tests.support.mcp_requests import (
    ACCEPT,
    HANDSHAKE_VERSION,
    MODERN_VERSION,
    PROTOCOL_VERSION_META,
    challenge_params,
    handshake_headers,
    in_session,
    initialize,
    modern,
    modern_body,
    modern_headers,
    wait_for_tools,
)
from tests.support.tokens import claims_of

pytestmark = pytest.mark.anyio

A, B = "agent-a", "agent-b"
OTHER_RESOURCE = "https://other.example/api"
RESOURCE_SCOPES = ("weather",)
ECHO_SCOPES = ("weather:echo", "weather:admin")
WEATHER_TOOLS = ["weather__echo", "weather__get_forecast", "weather__list_alerts"]
HEADER_MISMATCH = -32020
UNSUPPORTED_PROTOCOL_VERSION = -32022
METHOD_NOT_FOUND = -32601
PORT = 8000
"""The loopback port the gateway is configured for (nothing listens: requests reach it in process)."""
WEATHER_ORIGIN = "https://weather.test"


@dataclass
class Resource:
    gateway: InProcessGateway
    keys: dict[str, AgentKey]
    seen: list[tuple[str, dict[str, Any]]]
    upstream_audience: str

    @property
    def mcp(self) -> str:
        return self.gateway.settings.mcp.resource

    @property
    def metadata_url(self) -> str:
        return self.gateway.endpoint("/.well-known/oauth-protected-resource/mcp")

    async def token(self, http: httpx2.AsyncClient, client_id: str = A, **form: str) -> str:
        return await agent_token(http, self.gateway, self.keys[client_id], client_id, **form)

    async def mint(self, **options: Any) -> str:
        """A token signed with the gateway's own keys (:func:`~tests.support.gateway_tokens.mint`)."""
        return await mint(self.gateway.gateway, **options)


@pytest.fixture(scope="module")
async def resource(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Resource]:
    keys = {A: AgentKey(), B: AgentKey()}
    store = tmp_path_factory.mktemp("rules") / "gateway.sqlite3"
    seen: list[tuple[str, dict[str, Any]]] = []
    audience = f"{WEATHER_ORIGIN}/mcp"

    def settings(port: int) -> Settings:
        mcp = f"http://127.0.0.1:{port}/mcp"
        return settings_from(
            port=port,
            store=f"sqlite:///{store}",
            resources=(OTHER_RESOURCE,),
            resource_scopes=RESOURCE_SCOPES,
            servers=({"id": "weather", "url": audience, "tool_scopes": {"echo": list(ECHO_SCOPES)}},),
            clients=(
                {
                    "client_id": A,
                    "scopes": ("weather",),
                    "audiences": (mcp, OTHER_RESOURCE),
                    "jwks": keys[A].jwks,
                },
                {"client_id": B, "scopes": ("weather:get_forecast",), "jwks": keys[B].jwks},
            ),
        )

    async with gateway_in_front_of_weather(
        settings(PORT), AsgiTransport({}), WEATHER_ORIGIN, on_token=lambda h, c: seen.append((h, c))
    ) as gateway:
        yield Resource(gateway, keys, seen, audience)


http_transport = http_reaches("resource")


@pytest.fixture
async def discovered(resource: Resource, http: httpx2.AsyncClient) -> Resource:
    await wait_for_tools(http, resource.mcp, await resource.token(http), WEATHER_TOOLS)
    return resource


def assert_jsonrpc_error(response: httpx2.Response, status: int, code: int, request_id: object = 1) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert body["id"] == request_id
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)


# -- PR-1 protected-resource metadata -------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
)
async def test_pr1_metadata_is_served_at_the_mcp_path_and_at_the_root(
    resource: Resource, http: httpx2.AsyncClient, path: str
) -> None:
    response = await http.get(resource.gateway.endpoint(path))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["resource"] == resource.mcp == f"{resource.gateway.url}/mcp"
    assert document["authorization_servers"] == [resource.gateway.issuer]
    assert document["bearer_methods_supported"] == ["header"]
    assert document.get("scopes_supported", []) == list(RESOURCE_SCOPES)
    assert "offline_access" not in document.get("scopes_supported", [])
    metadata = await http.get(resource.gateway.endpoint("/.well-known/oauth-authorization-server"))
    assert metadata.json()["issuer"] == document["authorization_servers"][0]


# -- PR-2 challenges ------------------------------------------------------------------------------


async def test_pr2_no_token_is_401_with_resource_metadata_and_no_error(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    for method in ("POST", "GET", "DELETE"):
        response = await http.request(
            method, resource.mcp, json=modern_body("tools/list"), headers=modern_headers(None, "tools/list")
        )
        assert response.status_code == 401, (method, response.text)
        challenge = response.headers["www-authenticate"]
        assert challenge == f'Bearer resource_metadata="{resource.metadata_url}", scope="weather"'
        assert "error=" not in challenge


def _foreign_key_token(resource: Resource) -> str:
    now = int(time.time())
    claims = {
        "iss": resource.gateway.issuer,
        "sub": A,
        "aud": resource.mcp,
        "client_id": A,
        "scope": "weather",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 300,
    }
    key = AgentKey()
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": "at+jwt"})


async def _as_is(token: str) -> str:
    """A token made without the gateway, as an awaitable like the others in the table."""
    return token


async def _other_issuer_token(resource: Resource) -> str:
    return await resource.mint(client_id=A, scope="weather", issuer="https://evil.example")


async def _truncated_signature_token(resource: Resource) -> str:
    return (await resource.mint(client_id=A, scope="weather"))[:-10]


BAD_TOKENS: dict[str, Callable[[Resource], Awaitable[str]]] = {
    "garbage": lambda r: _as_is("not-a-jwt"),
    "signed-by-another-key": lambda r: _as_is(_foreign_key_token(r)),
    "expired": lambda r: r.mint(client_id=A, scope="weather", lifetime=-5),
    "another-issuer": _other_issuer_token,
    "truncated-signature": _truncated_signature_token,
}


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_pr2_a_bad_token_is_401_invalid_token(
    discovered: Resource, http: httpx2.AsyncClient, kind: str
) -> None:
    token = await BAD_TOKENS[kind](discovered)
    response = await modern(http, discovered.mcp, token, "tools/list")
    assert response.status_code == 401, response.text
    params = challenge_params(response.headers["www-authenticate"])
    assert params["error"] == "invalid_token"
    assert params["resource_metadata"] == discovered.metadata_url


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("member", ['x\\"y', "\u20ac", "a\\\\b", "\u00e9"])
async def test_pr2_a_crafted_token_gets_a_well_formed_invalid_token_challenge(
    resource: Resource, http: httpx2.AsyncClient, member: str
) -> None:
    """The refusal may quote the token (a duplicated member's name): never a 500, never a broken header."""
    header = json.dumps({"alg": "ES256", "typ": "at+jwt"})[:-1] + f', "{member}": 1, "{member}": 2}}'
    token = f"{_b64(header.encode())}.{_b64(b'{}')}.{_b64(b'signature')}"
    response = await modern(http, resource.mcp, token, "tools/list")
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.isascii()
    params = challenge_params(challenge)
    assert set(params) == {"error", "error_description", "resource_metadata", "scope"}
    assert params["error"] == "invalid_token"
    assert params["resource_metadata"] == resource.metadata_url
    assert re.fullmatch(r"[\x20\x21\x23-\x5b\x5d-\x7e]*", params["error_description"])


async def test_pr2_a_missing_tool_scope_is_403_naming_every_scope_the_tool_needs(
    discovered: Resource, http: httpx2.AsyncClient
) -> None:
    token = await discovered.token(http, B)  # holds weather:get_forecast only
    for tool, needed in (("weather__echo", ECHO_SCOPES), ("weather__list_alerts", ("weather:list_alerts",))):
        response = await modern(http, discovered.mcp, token, "tools/call", {"name": tool, "arguments": {}})
        assert response.status_code == 403, response.text
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer error="insufficient_scope", ')
        params = challenge_params(challenge)
        assert set(params) == {"error", "error_description", "resource_metadata", "scope"}
        assert params["error"] == "insufficient_scope"
        assert params["resource_metadata"] == discovered.metadata_url
        assert params["scope"] == " ".join(needed), "all the scopes the tool needs, not only the missing"
        assert response.json()["error"]["data"] == {"requiredScopes": list(needed)}
    before = len(discovered.seen)
    response = await modern(
        http, discovered.mcp, token, "tools/call", {"name": "weather__echo", "arguments": {"text": "x"}}
    )
    assert response.status_code == 403
    assert len(discovered.seen) == before, "a refused call never reaches the upstream"


async def test_pr2_a_broader_granted_scope_covers_the_tools_narrower_one(
    discovered: Resource, http: httpx2.AsyncClient
) -> None:
    token = await discovered.token(http, A)  # holds "weather"; the tool needs "weather:get_forecast"
    response = await modern(
        http,
        discovered.mcp,
        token,
        "tools/call",
        {"name": "weather__get_forecast", "arguments": {"city": "Oslo"}},
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["city"] == "Oslo"


async def test_pr2_a_malformed_request_is_400(resource: Resource, http: httpx2.AsyncClient) -> None:
    token = await resource.token(http)
    headers = modern_headers(token, "tools/list")
    not_json = await http.post(resource.mcp, content=b"{not json", headers=headers)
    assert_jsonrpc_error(not_json, 400, -32700, None)
    batch = await http.post(resource.mcp, json=[modern_body("tools/list")], headers=headers)
    assert_jsonrpc_error(batch, 400, -32600, None)


# -- PR-3 only the Authorization header carries tokens --------------------------------------------


async def test_pr3_a_token_in_the_query_string_is_refused(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    token = await resource.token(http)
    headers = modern_headers(None, "tools/list")
    alone = await http.post(
        f"{resource.mcp}?access_token={token}", json=modern_body("tools/list"), headers=headers
    )
    assert alone.status_code in (400, 401), alone.text
    assert "result" not in alone.text
    with_header = await http.post(
        f"{resource.mcp}?access_token={token}",
        json=modern_body("tools/list"),
        headers=modern_headers(token, "tools/list"),
    )
    assert with_header.status_code == 400, with_header.text
    assert with_header.json()["error"] == "invalid_request"
    form = await http.post(
        resource.mcp,
        content=f"access_token={token}".encode(),
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 401, "a token in a form body is not a bearer token either"


# -- PR-4 validation --------------------------------------------------------------------------------


async def test_pr4_a_token_minted_for_another_resource_is_refused(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    token = await resource.token(http, A, resource=OTHER_RESOURCE)
    assert claims_of(token)["aud"] == OTHER_RESOURCE
    response = await modern(http, resource.mcp, token, "tools/list")
    assert response.status_code == 401, response.text
    assert challenge_params(response.headers["www-authenticate"])["error"] == "invalid_token"
    upstream_token = await resource.mint(client_id=A, scope="weather")
    assert (await modern(http, resource.mcp, upstream_token, "tools/list")).status_code == 200


async def test_pr4_a_resource_indicator_in_another_spelling_is_compared_canonically(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    spelt = resource.mcp.replace("http://", "HTTP://")
    token = await resource.token(http, A, resource=spelt)
    assert claims_of(token)["aud"] == resource.mcp
    assert (await modern(http, resource.mcp, token, "tools/list")).status_code == 200


async def test_pr4_a_revoked_token_is_refused_at_once(resource: Resource, http: httpx2.AsyncClient) -> None:
    token = await resource.token(http, A)
    session_id = await initialize(http, resource.mcp, token)
    assert (await modern(http, resource.mcp, token, "tools/list")).status_code == 200  # verified and cached
    await revoke(http, resource.gateway, resource.keys[A], A, token)
    for response in (
        await modern(http, resource.mcp, token, "tools/list"),
        await in_session(http, resource.mcp, token, session_id, "tools/list"),
    ):
        assert response.status_code == 401, response.text
        params = challenge_params(response.headers["www-authenticate"])
        assert params["error"] == "invalid_token"


# -- PR-5 no token passthrough ----------------------------------------------------------------------


async def test_pr5_the_agents_token_is_never_forwarded_upstream(
    discovered: Resource, http: httpx2.AsyncClient
) -> None:
    token = await discovered.token(http, A)
    before = len(discovered.seen)
    response = await modern(
        http, discovered.mcp, token, "tools/call", {"name": "weather__echo", "arguments": {"text": "hi"}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"]["content"][0]["text"] == f"hi (for {A} via {A})"
    received = discovered.seen[before:]
    assert received, "the upstream was called"
    for authorization, claims in received:
        assert token not in authorization
        assert claims["aud"] == discovered.upstream_audience
    call = [claims for _, claims in received if "act" in claims][-1]
    assert call["scope"] == " ".join(ECHO_SCOPES)
    assert call["act"] == {"sub": A}
    assert call["exp"] <= claims_of(token)["exp"]


# -- PR-6 Origin and Host -----------------------------------------------------------------------------


async def test_pr6_an_origin_not_allowed_is_403(resource: Resource, http: httpx2.AsyncClient) -> None:
    token = await resource.token(http)
    for origin in ("https://evil.example", "http://localhost.evil.example", "null"):
        headers = {**modern_headers(token, "tools/list"), "Origin": origin}
        response = await http.post(resource.mcp, json=modern_body("tools/list"), headers=headers)
        assert response.status_code == 403, (origin, response.text)
    own = {**modern_headers(token, "tools/list"), "Origin": resource.gateway.url}
    assert (await http.post(resource.mcp, json=modern_body("tools/list"), headers=own)).status_code == 200
    # Refused before the bearer check: no token needed to be told no.
    anonymous = {**modern_headers(None, "tools/list"), "Origin": "https://evil.example"}
    assert (
        await http.post(resource.mcp, json=modern_body("tools/list"), headers=anonymous)
    ).status_code == 403


async def test_pr6_a_foreign_host_is_421_dns_rebinding(resource: Resource, http: httpx2.AsyncClient) -> None:
    token = await resource.token(http)
    port = resource.gateway.settings.server.port
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}"):
        headers = {**modern_headers(token, "tools/list"), "Host": host}
        response = await http.post(resource.mcp, json=modern_body("tools/list"), headers=headers)
        assert response.status_code == 421, (host, response.text)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        headers = {**modern_headers(token, "tools/list"), "Host": host}
        assert (
            await http.post(resource.mcp, json=modern_body("tools/list"), headers=headers)
        ).status_code == 200


def test_pr6_the_gateway_binds_to_loopback_by_default() -> None:
    assert settings_from().server.host == "127.0.0.1"


# -- PR-7 sessions -------------------------------------------------------------------------------------

SESSION_ID = re.compile(r"[\x21-\x7e]+")


async def test_pr7_session_ids_are_random_with_at_least_128_bits(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    token = await resource.token(http)
    ids = [await initialize(http, resource.mcp, token) for _ in range(16)]
    assert len(set(ids)) == len(ids)
    for session_id in ids:
        assert SESSION_ID.fullmatch(session_id), "visible ASCII only (Streamable HTTP)"
        assert re.fullmatch(r"[A-Za-z0-9_-]+", session_id)
        raw = base64.urlsafe_b64decode(session_id + "=" * (-len(session_id) % 4))
        assert len(raw) * 8 >= 128
    # No shared structure: every position varies across the ids (a counter or timestamp would not).
    shortest = min(len(i) for i in ids)
    assert all(len({i[p] for i in ids}) > 1 for p in range(shortest))


async def test_pr7_another_principal_presenting_a_session_gets_404(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    token_a, token_b = await resource.token(http, A), await resource.token(http, B)
    session_id = await initialize(http, resource.mcp, token_a)
    stolen = await in_session(http, resource.mcp, token_b, session_id, "tools/list")
    assert_jsonrpc_error(stolen, 404, -32600)
    stolen_delete = await http.delete(resource.mcp, headers=handshake_headers(token_b, session_id))
    assert stolen_delete.status_code == 404
    # The owner's session is untouched by the attempts, also with a fresh token of the same principal.
    for token in (token_a, await resource.token(http, A)):
        mine = await in_session(http, resource.mcp, token, session_id, "tools/list")
        assert mine.status_code == 200, mine.text


async def test_pr7_a_session_is_never_authentication(resource: Resource, http: httpx2.AsyncClient) -> None:
    token = await resource.token(http)
    session_id = await initialize(http, resource.mcp, token)
    anonymous = await in_session(http, resource.mcp, None, session_id, "tools/list")  # type: ignore[arg-type]
    assert anonymous.status_code == 401
    assert "error=" not in anonymous.headers["www-authenticate"]
    forged = await in_session(http, resource.mcp, _foreign_key_token(resource), session_id, "tools/list")
    assert forged.status_code == 401


# -- Transport (2025-06-18 / 2025-11-25) -------------------------------------------------------------


async def test_transport_a_request_without_a_session_id_is_400(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    token = await resource.token(http)
    await initialize(http, resource.mcp, token)
    missing = await in_session(http, resource.mcp, token, None, "tools/list")
    assert_jsonrpc_error(missing, 400, -32600)
    no_version = await http.post(
        resource.mcp,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={"Authorization": f"Bearer {token}", "Accept": ACCEPT, "Content-Type": "application/json"},
    )
    assert_jsonrpc_error(no_version, 400, -32600)  # absent version: 2025-03-26 is assumed, still a session


async def test_transport_an_unknown_session_is_404(resource: Resource, http: httpx2.AsyncClient) -> None:
    token = await resource.token(http)
    for session_id in ("x" * 43, "0", "y" * 200):
        unknown = await in_session(http, resource.mcp, token, session_id, "tools/list")
        assert_jsonrpc_error(unknown, 404, -32600)


async def test_transport_delete_ends_the_session(resource: Resource, http: httpx2.AsyncClient) -> None:
    token = await resource.token(http)
    session_id = await initialize(http, resource.mcp, token)
    assert (await in_session(http, resource.mcp, token, session_id, "ping")).status_code == 200
    ended = await http.delete(resource.mcp, headers=handshake_headers(token, session_id))
    assert ended.status_code in (200, 204)
    after = await in_session(http, resource.mcp, token, session_id, "tools/list")
    assert_jsonrpc_error(after, 404, -32600)
    again = await http.delete(resource.mcp, headers=handshake_headers(token, session_id))
    assert again.status_code == 404
    without = await http.delete(resource.mcp, headers=handshake_headers(token))
    assert without.status_code == 400


async def test_transport_an_unsupported_protocol_version_is_400(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    token = await resource.token(http)
    session_id = await initialize(http, resource.mcp, token)
    for version in ("2099-01-01", "1.0", "latest"):
        headers = {**handshake_headers(token, session_id), "MCP-Protocol-Version": version}
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        response = await http.post(resource.mcp, json=body, headers=headers)
        assert response.status_code == 400, (version, response.text)
        assert "error" in response.json()


async def test_transport_notifications_are_202(resource: Resource, http: httpx2.AsyncClient) -> None:
    token = await resource.token(http)
    session_id = await initialize(http, resource.mcp, token)
    messages: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}},
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
    ]
    for message in messages:
        handshake = await http.post(resource.mcp, json=message, headers=handshake_headers(token, session_id))
        assert handshake.status_code == 202, handshake.text
        assert handshake.content == b""
        modern_era = await http.post(
            resource.mcp, json=message, headers=modern_headers(token, message["method"])
        )
        assert modern_era.status_code == 202, modern_era.text


async def test_transport_get_is_405(resource: Resource, http: httpx2.AsyncClient) -> None:
    token = await resource.token(http)
    session_id = await initialize(http, resource.mcp, token)
    for headers in (handshake_headers(token, session_id), modern_headers(token, "tools/list")):
        response = await http.get(resource.mcp, headers={**headers, "Accept": "text/event-stream"})
        assert response.status_code == 405, response.text
        assert "GET" not in response.headers.get("allow", "")


async def test_transport_an_oversized_body_is_413_with_a_jsonrpc_error(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    token = await resource.token(http)
    limit = resource.gateway.settings.mcp.mcp_max_body_bytes
    body = modern_body("tools/call", {"name": "weather__echo", "arguments": {"text": "x" * (limit + 1)}})
    encoded = json.dumps(body).encode()
    headers = modern_headers(token, "tools/call", "weather__echo")
    declared = await http.post(resource.mcp, content=encoded, headers=headers)
    assert_jsonrpc_error(declared, 413, -32600, None)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for start in range(0, len(encoded), 64 * 1024):
            yield encoded[start : start + 64 * 1024]

    streamed = await http.post(resource.mcp, content=chunks(), headers=headers)
    assert_jsonrpc_error(streamed, 413, -32600, None)
    assert (await modern(http, resource.mcp, token, "tools/list")).status_code == 200


# -- Transport (2026-07-28) ----------------------------------------------------------------------------

ROUTING_HEADER_FAULTS: dict[str, tuple[str, dict[str, str | None]]] = {
    "missing Mcp-Method": ("tools/list", {"Mcp-Method": None}),
    "mismatched Mcp-Method": ("tools/list", {"Mcp-Method": "ping"}),
    "missing Mcp-Name": ("tools/call", {"Mcp-Name": None}),
    "mismatched Mcp-Name": ("tools/call", {"Mcp-Name": "weather__list_alerts"}),
    "Mcp-Name of another case": ("tools/call", {"Mcp-Name": "weather.GET_FORECAST"}),
    "_meta version unlike the header": ("tools/list", {}),
}


@pytest.mark.parametrize("fault", list(ROUTING_HEADER_FAULTS))
async def test_transport_modern_missing_or_mismatched_routing_headers_are_header_mismatch(
    discovered: Resource, http: httpx2.AsyncClient, fault: str
) -> None:
    token = await discovered.token(http)
    method, changes = ROUTING_HEADER_FAULTS[fault]
    name = "weather__get_forecast" if method == "tools/call" else None
    body = modern_body(method, {"name": name, "arguments": {"city": "Rome"}} if name else {})
    headers = modern_headers(token, method, name)
    for header, value in changes.items():
        headers.pop(header, None)
        if value is not None:
            headers[header] = value
    if not changes:
        body["params"]["_meta"][PROTOCOL_VERSION_META] = HANDSHAKE_VERSION
    before = len(discovered.seen)
    response = await http.post(discovered.mcp, json=body, headers=headers)
    assert_jsonrpc_error(response, 400, HEADER_MISMATCH)
    assert len(discovered.seen) == before, "nothing was forwarded"


async def test_transport_modern_a_duplicated_routing_header_is_header_mismatch(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    token = await resource.token(http)
    headers = [*modern_headers(token, "tools/list").items(), ("Mcp-Method", "tools/list")]
    response = await http.post(resource.mcp, json=modern_body("tools/list"), headers=headers)
    assert_jsonrpc_error(response, 400, HEADER_MISMATCH)


async def test_transport_modern_an_unsupported_version_is_32022(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    token = await resource.token(http)
    future = "2099-01-01"
    body = modern_body("tools/list")
    body["params"]["_meta"][PROTOCOL_VERSION_META] = future
    headers = {**modern_headers(token, "tools/list"), "MCP-Protocol-Version": future}
    response = await http.post(resource.mcp, json=body, headers=headers)
    assert_jsonrpc_error(response, 400, UNSUPPORTED_PROTOCOL_VERSION)
    data = response.json()["error"]["data"]
    assert data["requested"] == future
    assert MODERN_VERSION in data["supported"]


async def test_transport_modern_a_request_without_meta_is_invalid_params(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    token = await resource.token(http)
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = await http.post(resource.mcp, json=body, headers=modern_headers(token, "tools/list"))
    assert_jsonrpc_error(response, 400, -32602)


async def test_transport_an_unknown_method_is_method_not_found(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    token = await resource.token(http)
    modern_era = await modern(http, resource.mcp, token, "tools/frobnicate")
    assert_jsonrpc_error(modern_era, 404, METHOD_NOT_FOUND)
    session_id = await initialize(http, resource.mcp, token)
    handshake = await in_session(http, resource.mcp, token, session_id, "tools/frobnicate")
    assert_jsonrpc_error(handshake, 200, METHOD_NOT_FOUND)
    discover_in_handshake = await in_session(http, resource.mcp, token, session_id, "server/discover")
    assert_jsonrpc_error(discover_in_handshake, 200, METHOD_NOT_FOUND)


async def test_transport_an_unknown_tool_is_invalid_params_with_the_status_of_its_era(
    resource: Resource, http: httpx2.AsyncClient
) -> None:
    """2026-07-28 maps every JSON-RPC error code to one HTTP status (-32602 -> 400); the
    handshake era answers JSON-RPC errors with 200."""
    token = await resource.token(http)
    params = {"name": "nowhere.nothing", "arguments": {}}
    assert_jsonrpc_error(await modern(http, resource.mcp, token, "tools/call", params), 400, -32602)
    session_id = await initialize(http, resource.mcp, token)
    handshake = await in_session(http, resource.mcp, token, session_id, "tools/call", params)
    assert_jsonrpc_error(handshake, 200, -32602)


async def test_transport_modern_results_carry_result_type_and_cache_hints(
    discovered: Resource, http: httpx2.AsyncClient
) -> None:
    token = await discovered.token(http)
    discover = await modern(http, discovered.mcp, token, "server/discover")
    assert discover.status_code == 200, discover.text
    assert MODERN_VERSION in discover.json()["result"]["supportedVersions"]
    listed = (await modern(http, discovered.mcp, token, "tools/list")).json()["result"]
    assert listed["resultType"] == "complete"
    assert isinstance(listed["ttlMs"], int)
    assert listed["cacheScope"] == "private"
    assert [tool["name"] for tool in listed["tools"]] == WEATHER_TOOLS
