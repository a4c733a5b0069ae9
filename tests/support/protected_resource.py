"""A minimal protected resource mounted in front of the gateway's app, for OAuth client libraries.

Client libraries (the ``mcp`` SDK's auth providers) start from a protected resource's 401: they
read its RFC 9728 metadata, then the authorization server's, then ask for a token. This resource
is ``/mcp`` and its metadata, nothing else: it checks tokens with the gateway's own verifier and
deny-list, and answers 200 with the verified claims, so a test sees what the resource saw.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from gateway.composition import Gateway
from gateway.oauth.tokens.access_tokens import InvalidToken

HELD_SCOPES = ("tools:read", "tools:call")
"""The scopes the resource's metadata lists."""
CHALLENGED_SCOPE = "tools:read"
"""What the resource's 401 asks for: the SDK requests exactly this, the client holds more."""
PRM_PATH = "/.well-known/oauth-protected-resource/mcp"


def with_protected_resource(gateway_app: Starlette, gateway: Gateway) -> ASGIApp:
    """``/mcp`` answering 401 + RFC 9728 challenge, or 200 with the verified claims.

    Shaped as :func:`~tests.support.gateway_server.running_gateway`'s ``wrap``.
    """
    settings = gateway.settings
    resource = settings.mcp.resource
    metadata_url = settings.server.endpoint(PRM_PATH)

    def unauthorized(error: str | None) -> Response:
        params = [f'resource_metadata="{metadata_url}"', f'scope="{CHALLENGED_SCOPE}"']
        if error:
            params.insert(0, f'error="{error}"')
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer " + ", ".join(params)})

    async def protected_resource_metadata(request: Request) -> Response:
        return JSONResponse(
            {
                "resource": resource,
                "authorization_servers": [settings.server.issuer_id],
                "scopes_supported": list(HELD_SCOPES),
                "bearer_methods_supported": ["header"],
            }
        )

    async def mcp(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return unauthorized(None)
        try:
            claims = await gateway.verifier.verify(token.strip(), audience=resource)
        except InvalidToken:
            return unauthorized("invalid_token")
        if await gateway.revocations.is_revoked(claims.jti):
            return unauthorized("invalid_token")
        return JSONResponse(dict(claims.raw))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with gateway_app.router.lifespan_context(gateway_app):
            yield

    return Starlette(
        routes=[
            Route(PRM_PATH, protected_resource_metadata, methods=["GET"]),
            Route("/mcp", mcp, methods=["GET", "POST"]),
            Mount("/", app=gateway_app),
        ],
        lifespan=lifespan,
    )
