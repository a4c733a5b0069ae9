"""The protected resource's HTTP face: its metadata route and the ``/mcp`` ASGI stack.

``/mcp`` is its own stack, dispatched by :class:`McpRoute` ahead of Starlette's router and
exception middleware, so the hot path of every tool call pays for neither:

    McpRoute -> OriginGuard (Host, Origin) -> BearerAuth (token) -> McpEndpoint

Beside it, ``GET /call-approvals/{id}``: an agent reads a call of its own held for approval (AP-6),
behind the same bearer check.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mcp_types.jsonrpc import INTERNAL_ERROR
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import paths
from gateway.challenges import ResourceChallenge
from gateway.error_handlers import answer_within_boundary
from gateway.errors import GatewayError, JSONRPCError
from gateway.resource.bearer import BearerAuth
from gateway.resource.call_approval import ApprovalGate, CallStatus
from gateway.resource.call_audit import CallAudit
from gateway.resource.mcp_endpoint import McpEndpoint
from gateway.resource.origin import OriginGuard, loopback_host_headers
from gateway.resource.resource_metadata import protected_resource_metadata
from gateway.resource.step_up import StepUpRequests
from gateway.resource.tool_directory import CatalogDirectory
from gateway.store import StoreUnavailable
from gateway.upstream.forwarding import McpForwarder, ToolForwarder
from gateway.upstream.rest_forwarding import RestForwarder

if TYPE_CHECKING:
    from gateway.composition import Gateway

logger = logging.getLogger("mcp_gateway")


def protected_resource_routes(gateway: Gateway) -> list[BaseRoute]:
    """RFC 9728 metadata at the MCP endpoint's own well-known path and at the root one."""
    server, mcp = gateway.settings.server, gateway.settings.mcp
    document = protected_resource_metadata(
        resource=mcp.resource,
        issuer=server.issuer_id,
        scopes=mcp.resource_scopes,
        jwks_uri=server.endpoint(paths.JWKS),
    )

    async def serve(request: Request) -> Response:
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})

    where = (paths.resource_metadata_path(mcp.resource), paths.PROTECTED_RESOURCE_METADATA)
    return [
        *(Route(path, serve, methods=["GET"]) for path in dict.fromkeys(where)),
        Route(paths.CALL_APPROVALS + "/{call_id}", _call_status_app(gateway), methods=["GET"]),
    ]


def _call_status_app(gateway: Gateway) -> ASGIApp:
    """An agent's own held calls, behind the MCP endpoint's bearer check (its token, its audience)."""
    status = CallStatus(
        gateway.approvals.calls, gateway.settings.server.endpoint(paths.CALL_APPROVALS), gateway.clock
    )
    return _bearer(gateway, request_response(status.read))


def mcp_app(gateway: Gateway) -> ASGIApp:
    """``/mcp``: Host and Origin checks, then the bearer check, then the endpoint."""
    server, mcp = gateway.settings.server, gateway.settings.mcp
    metadata_url = server.endpoint(paths.resource_metadata_path(mcp.resource))
    endpoint = McpEndpoint(
        directory=CatalogDirectory(gateway.catalog),
        forwarder=ToolForwarder(
            {
                "mcp": McpForwarder(gateway.downstream_tokens, gateway.upstream),
                "openapi": RestForwarder(gateway.downstream_tokens, gateway.rest_tools, gateway.transport),
            }
        ),
        sessions=gateway.sessions,
        resource_metadata_url=metadata_url,
        max_body_bytes=mcp.mcp_max_body_bytes,
        step_up=StepUpRequests(
            gateway.approvals.requests,
            gateway.settings.server.endpoint(paths.ACCESS_REQUESTS),
            gateway.clock,
        ),
        gate=ApprovalGate(gateway.approvals.calls, server.endpoint(paths.CALL_APPROVALS), gateway.clock),
        audit=CallAudit(gateway.audit),
    )

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint.handle(Request(scope, receive), send)
        await response(scope, receive, send)

    return OriginGuard(
        _bearer(gateway, serve),
        public_url=server.base_url,
        allowed_origins=mcp.allowed_origins,
        allowed_hosts=(*mcp.allowed_hosts, *loopback_host_headers(server.host, server.port)),
    )


def _bearer(gateway: Gateway, app: ASGIApp) -> BearerAuth:
    """``app`` behind the bearer check for tokens minted for the MCP endpoint (PR-2 … PR-4)."""
    server, mcp = gateway.settings.server, gateway.settings.mcp
    metadata_url = server.endpoint(paths.resource_metadata_path(mcp.resource))
    return BearerAuth(
        app,
        verifier=gateway.verifier,
        revocations=gateway.revocations,
        marks=gateway.marks,
        resource=gateway.targets.gateway_resource,
        challenge=ResourceChallenge(metadata_url, " ".join(mcp.resource_scopes)),
        cache=gateway.verified_tokens,
        audit=gateway.audit,
    )


class McpRoute:
    """Sends ``/mcp`` straight to its own ASGI stack and answers what it raises: an error of the
    family through the one renderer, a store that cannot answer as a JSON-RPC 503, anything else
    as a JSON-RPC 500 without details."""

    def __init__(self, app: ASGIApp, *, path: str, mcp_app: ASGIApp) -> None:
        self._app = app
        self._path = path
        self._mcp_app = mcp_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self._path:
            await self._app(scope, receive, send)
            return
        await answer_within_boundary(self._mcp_app, scope, receive, send, self._error_of)

    def _error_of(self, exc: Exception) -> GatewayError:
        if isinstance(exc, GatewayError):
            return exc
        if isinstance(exc, StoreUnavailable):
            logger.warning("store unavailable: %s", exc)
            return JSONRPCError(INTERNAL_ERROR, "the state store is unavailable; retry shortly", status=503)
        logger.error("unexpected error on %s: %s", self._path, type(exc).__name__)
        return JSONRPCError(INTERNAL_ERROR, "internal error", status=500)
