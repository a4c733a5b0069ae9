"""The operators' HTTP face, built from the wired parts.

GET  /healthz                                          public: ``{"status": "ok"}`` or 503, nothing more
GET  /.well-known/oauth-protected-resource/admin/api   RFC 9728 metadata of the admin API
GET  /admin/api/v1/health                              the health report, for any admin role
GET  /admin/api/v1/openapi.json                        the OpenAPI 3.1 document, for any admin role
     /admin/api/v1/access-requests, /grants, /policy   the approval loop (admin/approvals_api.py)
     /admin/api/v1/calls                               held calls (admin/calls_api.py)
     /admin/api/v1/tools/pending                       pending tool definitions (admin/tools_api.py)
     /admin/api/v1/servers, /namespaces                upstream servers and who owns which namespace
                                                       (admin/servers_api.py)
     /admin/api/v1/audit/events                        the audit trail, searched (admin/audit_api.py)

The admin API is its own stack, dispatched by :class:`~gateway.admin.boundary.AdminRoute`:

    AdminRoute (problem details) -> BearerAuth (a token minted for the admin API) -> its router,
    whose handlers check the role each operation needs (:mod:`gateway.admin.roles`)

The bearer check is the MCP endpoint's (:class:`~gateway.resource.bearer.BearerAuth`: the
gateway's own verifier, the ``jti`` deny-list, the not-before marks) with the admin API's audience
and a cache of its own, so a token verified for one audience is never taken from the cache for the
other (AD-1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import builders, paths
from gateway.admin.approvals_api import ApprovalsApi
from gateway.admin.audit_api import audit_routes
from gateway.admin.calls_api import call_routes
from gateway.admin.health import health_report, store_answers
from gateway.admin.openapi import openapi_document
from gateway.admin.roles import READERS, ROLES, require_role
from gateway.admin.servers_api import server_routes
from gateway.admin.tools_api import tool_routes
from gateway.challenges import ResourceChallenge
from gateway.errors import NotFound
from gateway.resource.bearer import BearerAuth
from gateway.resource.resource_metadata import protected_resource_metadata

if TYPE_CHECKING:
    from gateway.composition import Gateway

NO_STORE = {"Cache-Control": "no-store"}


def admin_routes(gateway: Gateway) -> list[BaseRoute]:
    """What the main router serves for operators: the public probe and the admin API's metadata."""
    server = gateway.settings.server
    document = protected_resource_metadata(
        resource=gateway.admin_resource,
        issuer=server.issuer_id,
        scopes=ROLES,
        jwks_uri=server.endpoint(paths.JWKS),
    )

    async def healthz(request: Request) -> Response:
        """AD-3: whether this replica can serve (its store answers), and not one word more."""
        if await store_answers(gateway.store):
            return JSONResponse({"status": "ok"}, headers=NO_STORE)
        return JSONResponse({"status": "unavailable"}, status_code=503, headers=NO_STORE)

    async def metadata(request: Request) -> Response:
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})

    return [
        Route(paths.HEALTHZ, healthz, methods=["GET"]),
        Route(paths.resource_metadata_path(gateway.admin_resource), metadata, methods=["GET"]),
    ]


def admin_app(gateway: Gateway) -> ASGIApp:
    """The admin API: the bearer check for its audience, then its router."""
    metadata_url = gateway.settings.server.endpoint(paths.resource_metadata_path(gateway.admin_resource))
    router = Router(admin_api_routes(gateway, metadata_url), redirect_slashes=False, default=_not_found)
    return BearerAuth(
        router,
        verifier=gateway.verifier,
        revocations=gateway.revocations,
        marks=gateway.marks,
        resource=gateway.admin_resource,
        challenge=ResourceChallenge(metadata_url),
        cache=gateway.admin_tokens,
        audit=gateway.audit,
    )


def admin_api_routes(gateway: Gateway, metadata_url: str) -> list[BaseRoute]:
    """Every route of the admin API (each handler checks its own role; ``metadata_url`` is what
    an ``insufficient_scope`` challenge names)."""
    server = gateway.settings.server
    store_backend = urlsplit(server.store).scheme  # the scheme only: the URL may hold a password

    async def health(request: Request) -> Response:
        require_role(request.scope["state"]["claims"], READERS, metadata_url)
        report = health_report(
            replica=gateway.replica,
            store_ok=await store_answers(gateway.store),
            store_backend=store_backend,
            refresher=gateway.refresher_task.state,
            passes=gateway.refresher.passes,
            servers=gateway.catalog.health(),
            attempts=gateway.discovery.attempts,
        )
        return JSONResponse(report, headers=NO_STORE)

    document = openapi_document(
        server.endpoint(paths.ADMIN_API_V1), server.endpoint(paths.TOKEN), gateway.admin_resource
    )

    async def openapi(request: Request) -> Response:
        require_role(request.scope["state"]["claims"], READERS, metadata_url)
        return JSONResponse(document, headers=NO_STORE)

    return [
        Route(paths.ADMIN_HEALTH, health, methods=["GET"]),
        Route(paths.ADMIN_OPENAPI, openapi, methods=["GET"]),
        *ApprovalsApi(gateway.approvals, gateway.clock, metadata_url).routes(),
        *call_routes(gateway.approvals.calls, gateway.clock, metadata_url),
        *tool_routes(gateway.pins, metadata_url),
        *server_routes(builders.registrations(gateway), metadata_url),
        *audit_routes(gateway.audit_trail.store, gateway.clock, metadata_url),
    ]


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    raise NotFound("nothing is served at this path")
