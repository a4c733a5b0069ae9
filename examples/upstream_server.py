"""An example upstream MCP tool server ("weather") that trusts only the gateway's downstream tokens.

    python examples/upstream_server.py --issuer http://127.0.0.1:8000 --port 8001 \\
        --audience http://127.0.0.1:8001/mcp

It serves Streamable HTTP at ``/mcp`` (stateless, JSON answers) with the ``mcp`` SDK's
``MCPServer``. Every request needs a bearer token that the gateway minted for this server:

* signed ES256 by a key in the gateway's JWKS (``<issuer>/jwks.json``, cached, fetched again when
  a token names an unknown ``kid``);
* ``typ`` header ``at+jwt`` (RFC 9068), ``iss`` the gateway's issuer byte for byte, ``aud`` this
  server's audience and nothing else, not expired.

Anything else is answered ``401`` by the SDK's bearer middleware. Each tool then checks the scope
it needs: ``weather:<tool>``, or ``weather``, which covers every tool of this server (the
registry's default scopes). A call without it is refused with a JSON-RPC error.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import jwt
import uvicorn
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel
from starlette.types import ASGIApp

SERVER_ID = "weather"
ALGORITHM = "ES256"
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
INSUFFICIENT_SCOPE = -32003
"""The JSON-RPC code the gateway itself answers a missing scope with."""

TokenObserver = Callable[[str, dict[str, Any]], None]
"""Receives ``(authorization header, verified claims)`` for every token this server accepts."""

logger = logging.getLogger("weather-upstream")


class GatewayTokenVerifier:
    """The SDK's ``TokenVerifier`` protocol for tokens minted by one gateway for one audience.

    The JWKS is cached for ``jwks_max_age`` seconds; a token naming a ``kid`` not in the cache
    triggers one fetch, at most every ``jwks_min_refetch`` seconds, so random ``kid`` values cannot
    make this server hammer the gateway.
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        jwks_url: str | None = None,
        on_token: TokenObserver | None = None,
        leeway: float = 30.0,
        jwks_max_age: float = 300.0,
        jwks_min_refetch: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        jwks_transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url or issuer.rstrip("/") + "/jwks.json"
        self._on_token = on_token
        self._leeway = leeway
        self._max_age = jwks_max_age
        self._min_refetch = jwks_min_refetch
        self._clock = clock
        self._jwks_transport = jwks_transport  # default: the network; a test can serve the JWKS in process
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._tried_at: float | None = None
        self._lock = anyio.Lock()

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's access info, or ``None`` (the SDK then answers 401 ``invalid_token``)."""
        try:
            claims = await self._verified_claims(token)
        except (jwt.PyJWTError, ValueError) as exc:
            logger.info("refused a bearer token: %s", exc)
            return None
        if self._on_token is not None:
            self._on_token(f"Bearer {token}", claims)
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id", claims["sub"])),
            scopes=str(claims.get("scope", "")).split(),
            expires_at=int(claims["exp"]),
            resource=self.audience,
            subject=str(claims["sub"]),
            claims=claims,
        )

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise ValueError(f"algorithm {header.get('alg')!r} is not {ALGORITHM}")
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise ValueError("not an access token (typ)")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise ValueError("no kid in the header")
        key = await self._key(kid)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=self.issuer,
            audience=self.audience,
            leeway=self._leeway,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"], "strict_aud": True},
        )
        return claims

    async def _key(self, kid: str) -> jwt.PyJWK:
        async with self._lock:
            now = self._clock()
            fresh = self._fetched_at is not None and now - self._fetched_at < self._max_age
            may_try = self._tried_at is None or now - self._tried_at >= self._min_refetch
            if may_try and (not fresh or kid not in self._keys):
                self._tried_at = now
                try:
                    self._keys = await self._fetch_keys()
                    self._fetched_at = now
                except (httpx2.HTTPError, ValueError) as exc:
                    # Keep the keys already known (if any) and try again after jwks_min_refetch.
                    logger.warning("cannot fetch the gateway's JWKS from %s: %s", self.jwks_url, exc)
        key = self._keys.get(kid)
        if key is None:
            raise ValueError(f"no key {kid!r} in the gateway's JWKS")
        return key

    async def _fetch_keys(self) -> dict[str, jwt.PyJWK]:
        async with httpx2.AsyncClient(
            timeout=5.0, follow_redirects=False, transport=self._jwks_transport
        ) as http:
            response = await http.get(self.jwks_url)
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("the JWKS is not a JSON object with a list of keys")
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in document["keys"]:
            if _is_es256_signing_key(jwk):
                try:
                    keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm=ALGORITHM)
                except jwt.PyJWKError as exc:
                    logger.warning("skipping JWKS key %r: %s", jwk["kid"], exc)
        return keys


def _is_es256_signing_key(jwk: Any) -> bool:
    return (
        isinstance(jwk, Mapping)
        and isinstance(jwk.get("kid"), str)
        and jwk.get("kty") == "EC"
        and jwk.get("crv") == "P-256"
        and jwk.get("alg", ALGORITHM) == ALGORITHM
        and jwk.get("use", "sig") == "sig"
    )


def scope_covers(granted: list[str], tool: str) -> bool:
    """``weather:<tool>`` is needed; ``weather`` covers every tool of this server."""
    return SERVER_ID in granted or f"{SERVER_ID}:{tool}" in granted


def require_scope(tool: str) -> AccessToken:
    token = get_access_token()
    if token is None or not scope_covers(token.scopes, tool):
        raise MCPError(
            INSUFFICIENT_SCOPE,
            f"insufficient_scope: {tool} needs scope {SERVER_ID}:{tool}",
            data={"required_scope": f"{SERVER_ID}:{tool}"},
        )
    return token


class Forecast(BaseModel):
    city: str
    summary: str
    temperature_c: int
    precipitation_mm: float


class Alert(BaseModel):
    region: str
    severity: str
    headline: str


_SKIES = ("sunny", "partly cloudy", "overcast", "light rain", "showers", "windy")


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.strip().lower().encode()).digest()[:4], "big")


def build_server(verifier: GatewayTokenVerifier) -> MCPServer:
    server: MCPServer = MCPServer(
        SERVER_ID,
        instructions="Made-up weather, for trying the gateway. Every tool needs a gateway token.",
        token_verifier=verifier,
        auth=_auth_settings(verifier.issuer, verifier.audience),
        log_level="WARNING",
    )

    @server.tool()
    def get_forecast(city: str) -> Forecast:
        """Tomorrow's forecast for a city (made up, but the same city always gets the same one)."""
        require_scope("get_forecast")
        seed = _seed(city)
        return Forecast(
            city=city,
            summary=_SKIES[seed % len(_SKIES)],
            temperature_c=seed % 35 - 5,
            precipitation_mm=round((seed >> 8) % 200 / 10, 1),
        )

    @server.tool()
    def list_alerts(region: str) -> list[Alert]:
        """Active weather alerts for a region (made up)."""
        require_scope("list_alerts")
        if _seed(region) % 3:
            return []
        return [Alert(region=region, severity="moderate", headline=f"Strong winds expected in {region}")]

    @server.tool(structured_output=False)
    def echo(text: str) -> str:
        """Say the text back, with who asked (the token's subject and acting agent)."""
        token = require_scope("echo")
        actor = (token.claims or {}).get("act", {})
        acting = f" via {actor['sub']}" if isinstance(actor, Mapping) and "sub" in actor else ""
        return f"{text} (for {token.subject}{acting})"

    return server


def _auth_settings(issuer: str, audience: str) -> AuthSettings:
    # The audience is also this server's RFC 9728 resource when it is an http(s) URL. The verifier
    # checks ``aud`` itself (exactly), hence validate_token_resource=False.
    is_url = urlsplit(audience).scheme in ("http", "https")
    return AuthSettings(
        issuer_url=issuer,  # type: ignore[arg-type]  # pydantic validates the string
        resource_server_url=audience if is_url else None,  # type: ignore[arg-type]
        validate_token_resource=False,
    )


def build_app(
    issuer: str,
    audience: str,
    on_token: TokenObserver | None = None,
    *,
    host: str = "127.0.0.1",
    jwks_min_refetch: float = 10.0,
    jwks_transport: httpx2.AsyncBaseTransport | None = None,
) -> ASGIApp:
    """The ASGI app (Streamable HTTP at ``/mcp``, stateless, JSON answers); run it with lifespan on.

    ``host`` is where it is bound: the SDK only accepts matching ``Host`` headers on loopback.
    ``jwks_transport`` carries the JWKS fetches (default: the network), e.g. an
    ``httpx2.ASGITransport`` of the gateway's app when both run in one process.
    """
    verifier = GatewayTokenVerifier(
        issuer,
        audience,
        on_token=on_token,
        jwks_min_refetch=jwks_min_refetch,
        jwks_transport=jwks_transport,
    )
    return build_server(verifier).streamable_http_app(stateless_http=True, json_response=True, host=host)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", default="http://127.0.0.1:8000", help="the gateway's issuer (exact)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--audience", help="the aud tokens must carry (default: http://HOST:PORT/mcp)")
    args = parser.parse_args()
    audience = args.audience or f"http://{args.host}:{args.port}/mcp"
    logging.basicConfig(level=logging.INFO, format="weather-upstream: %(message)s")
    app = build_app(args.issuer, audience, host=args.host)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
