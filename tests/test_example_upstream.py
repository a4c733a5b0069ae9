"""The example upstream (``examples/upstream_server.py``) accepts only the gateway's downstream tokens.

A stub issuer (a tiny Starlette app serving ``/jwks.json`` with a key this test owns) stands in for
the gateway; the upstream runs under uvicorn on a free port and is called with the SDK's own
``Client`` over Streamable HTTP. Refusals are checked on the wire: ``401`` with an
``invalid_token`` challenge before any MCP handling, or a JSON-RPC error for a missing scope.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from examples.upstream_server import INSUFFICIENT_SCOPE, build_app
from tests.support.agents import AgentKey
from tests.support.asgi_server import Served
from tests.support.ports import free_port
from tests.support.tokens import claims_of

pytestmark = pytest.mark.anyio


@dataclass
class StubIssuer:
    """The gateway's JWKS, as far as the upstream can tell: keys the test owns and can rotate."""

    keys: list[AgentKey] = field(default_factory=lambda: [AgentKey()])
    fetches: int = 0
    url: str = ""

    def app(self) -> Starlette:
        async def jwks(request: Request) -> JSONResponse:
            self.fetches += 1
            return JSONResponse({"keys": [key.public_jwk for key in self.keys]})

        return Starlette(routes=[Route("/jwks.json", jwks)])


@dataclass
class Upstream:
    url: str
    issuer: StubIssuer
    audience: str
    seen: list[tuple[str, dict[str, Any]]]

    def token(
        self,
        *,
        scope: str = "weather",
        key: AgentKey | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A downstream token as the gateway mints it; keyword arguments override (``None`` drops)."""
        signer = key or self.issuer.keys[0]
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer.url,
            "sub": "alice",
            "aud": self.audience,
            "client_id": "demo-agent",
            "scope": scope,
            "act": {"sub": "demo-agent"},
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + 120,
        }
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(
            body,
            signer.private_key,
            algorithm="ES256",
            headers={"kid": signer.kid, "typ": "at+jwt", **(headers or {})},
        )

    @contextlib.asynccontextmanager
    async def client(self, token: str) -> AsyncIterator[Client]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http,
            Client(streamable_http_client(f"{self.url}/mcp", http_client=http)) as client,
        ):
            yield client

    async def post(self, token: str) -> httpx2.Response:
        """A raw ``tools/call`` (handshake era, stateless server: no session needed)."""
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "get_forecast", "arguments": {"city": "Paris"}},
        }
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": "2025-11-25",
        }
        async with httpx2.AsyncClient(timeout=10) as http:
            return await http.post(f"{self.url}/mcp", content=json.dumps(body), headers=headers)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    issuer = StubIssuer()
    seen: list[tuple[str, dict[str, Any]]] = []
    with Served().start(issuer.app()) as issuer_server:
        issuer.url = issuer_server.url
        audience = "https://weather.example/mcp"
        app = build_app(issuer.url, audience, on_token=lambda header, claims: seen.append((header, claims)))
        with Served().start(app) as server:
            yield Upstream(server.url, issuer, audience, seen)


# -- what gets through ----------------------------------------------------------------------
async def test_a_token_for_this_audience_with_the_tool_scope_calls_the_tool(upstream: Upstream) -> None:
    token = upstream.token(scope="weather:get_forecast")
    async with upstream.client(token) as client:
        result = await client.call_tool("get_forecast", {"city": "Paris"})
    assert not result.is_error, result
    assert result.structured_content is not None
    assert result.structured_content["city"] == "Paris"
    header, claims = upstream.seen[-1]
    assert header == f"Bearer {token}"
    assert claims["aud"] == upstream.audience
    assert claims["scope"] == "weather:get_forecast"


async def test_the_server_id_scope_covers_every_tool_of_the_server(upstream: Upstream) -> None:
    async with upstream.client(upstream.token(scope="weather")) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        alerts = await client.call_tool("list_alerts", {"region": "Bretagne"})
        echoed = await client.call_tool("echo", {"text": "hello"})
    assert names == {"get_forecast", "list_alerts", "echo"}
    assert not alerts.is_error and not echoed.is_error
    assert isinstance(echoed.content[0], TextContent)
    assert echoed.content[0].text == "hello (for alice via demo-agent)"


async def test_the_jwks_is_cached_and_fetched_again_for_an_unknown_kid() -> None:
    issuer = StubIssuer()
    with Served().start(issuer.app()) as issuer_server:
        issuer.url = issuer_server.url
        audience = "https://weather.example/mcp"
        with Served().start(build_app(issuer.url, audience, jwks_min_refetch=0)) as server:
            upstream = Upstream(server.url, issuer, audience, [])
            for _ in range(2):
                assert (await upstream.post(upstream.token())).status_code == 200
            assert issuer.fetches == 1
            rotated = AgentKey()
            issuer.keys.append(rotated)
            assert (await upstream.post(upstream.token(key=rotated))).status_code == 200
            assert issuer.fetches == 2


async def test_an_unreachable_jwks_refuses_tokens_with_401_not_500() -> None:
    issuer = StubIssuer(url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    audience = "https://weather.example/mcp"
    with Served().start(build_app(issuer.url, audience)) as server:
        upstream = Upstream(server.url, issuer, audience, [])
        response = await upstream.post(upstream.token())
    assert response.status_code == 401


# -- what is refused ------------------------------------------------------------------------
async def test_a_missing_scope_is_refused_with_a_jsonrpc_error(upstream: Upstream) -> None:
    async with upstream.client(upstream.token(scope="weather:list_alerts tools:call")) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("get_forecast", {"city": "Paris"})
        allowed = await client.call_tool("list_alerts", {"region": "Bretagne"})
    assert refused.value.code == INSUFFICIENT_SCOPE
    assert "weather:get_forecast" in refused.value.message
    assert not allowed.is_error


async def test_a_scope_of_another_server_is_refused(upstream: Upstream) -> None:
    async with upstream.client(upstream.token(scope="calendar weatherman:echo")) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("echo", {"text": "hi"})
    assert refused.value.code == INSUFFICIENT_SCOPE


def _hs256_token(upstream: Upstream) -> str:
    """HS256 keyed with the issuer's public key (PEM): the classic algorithm-confusion forgery.

    Built by hand: pyjwt refuses to use anything that looks like a key as an HMAC secret.
    """
    claims = claims_of(upstream.token())
    header = {"alg": "HS256", "typ": "at+jwt", "kid": upstream.issuer.keys[0].kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    secret = (
        upstream.issuer.keys[0]
        .private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned_token(upstream: Upstream) -> str:
    claims = claims_of(upstream.token())
    header = {"alg": "none", "typ": "at+jwt", "kid": upstream.issuer.keys[0].kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


REFUSED: dict[str, Callable[[Upstream], str]] = {
    "wrong audience": lambda u: u.token(aud="https://calendar.example/mcp"),
    "audience list": lambda u: u.token(aud=[u.audience, "https://calendar.example/mcp"]),
    "gateway's own audience": lambda u: u.token(aud=u.issuer.url + "/mcp"),
    "no audience": lambda u: u.token(aud=None),
    "wrong typ": lambda u: u.token(headers={"typ": "JWT"}),
    "id token typ": lambda u: u.token(headers={"typ": "id_token+jwt"}),
    "no typ": lambda u: u.token(headers={"typ": None}),
    "expired": lambda u: u.token(iat=int(time.time()) - 900, exp=int(time.time()) - 300),
    "no exp": lambda u: u.token(exp=None),
    "wrong issuer": lambda u: u.token(iss=u.issuer.url + "/"),
    "unknown key": lambda u: u.token(key=AgentKey()),
    "known kid, other key": lambda u: jwt.encode(
        claims_of(u.token()),
        AgentKey().private_key,
        algorithm="ES256",
        headers={"kid": u.issuer.keys[0].kid, "typ": "at+jwt"},
    ),
    "HS256": _hs256_token,
    "alg none": _unsigned_token,
    "not a JWT": lambda u: "opaque-token",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_a_token_not_minted_by_the_gateway_for_this_server_is_answered_401(
    upstream: Upstream, case: str
) -> None:
    token = REFUSED[case](upstream)
    before = len(upstream.seen)
    response = await upstream.post(token)
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert len(upstream.seen) == before, "a refused token must not reach the tools"


async def test_a_request_without_a_token_is_answered_401_with_the_resource_metadata(
    upstream: Upstream,
) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.post(f"{upstream.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        metadata = await http.get(f"{upstream.url}/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["www-authenticate"]
    assert metadata.json()["authorization_servers"] == [upstream.issuer.url]
    assert metadata.json()["resource"] == upstream.audience


async def test_the_sdk_client_fails_with_a_refused_token(upstream: Upstream) -> None:
    with pytest.raises(Exception) as failed:
        async with upstream.client(upstream.token(aud="https://calendar.example/mcp")) as client:
            await client.call_tool("get_forecast", {"city": "Paris"})
    assert any(isinstance(error, MCPError) for error in _leaves(failed.value))


def _leaves(error: BaseException) -> list[BaseException]:
    """The SDK raises from inside task groups: the errors at the bottom of any exception group."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]
