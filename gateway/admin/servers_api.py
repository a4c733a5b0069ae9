"""Upstream servers and namespace ownership at the admin API (AD-9):

    GET    /admin/api/v1/servers                              every server, with its owners; a reader
    POST   /admin/api/v1/servers                              register (201)
    GET    /admin/api/v1/servers/{server_id}                  one
    PATCH  /admin/api/v1/servers/{server_id}                  change: the members given replace
    DELETE /admin/api/v1/servers/{server_id}                  remove
    GET    /admin/api/v1/namespaces                           who owns which namespace; a reader
    POST   /admin/api/v1/namespaces/{namespace}/owners        {"person": ...}: a security admin
    DELETE /admin/api/v1/namespaces/{namespace}/owners/{person}

Every admin role reads every server (as the console's tools page shows them all, AD-7), so a tool
author sees whose namespace is whose. Writing needs ``admin:tool-author`` or
``admin:security-admin`` (403 ``insufficient_scope`` before anything is read); then the
registration service (:mod:`gateway.upstream.registration`) decides, as for the CLI and the
console: a tool author in a namespace they own only, never a security admin's field. Granting and
withdrawing a namespace needs ``admin:security-admin``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway import paths
from gateway.admin.json_bodies import json_body
from gateway.admin.roles import DECIDERS, KEEPERS, READERS, principal_of, require_role
from gateway.admin.server_bodies import CHANGE, OWNER, REGISTER
from gateway.errors import NO_STORE
from gateway.upstream.registration import Registrations
from tools_registry.servers import UpstreamServer

ONE = paths.ADMIN_SERVERS + "/{server_id}"
OWNERS = paths.ADMIN_NAMESPACES + "/{namespace}/owners"


def server_view(server: UpstreamServer, owners: tuple[str, ...]) -> dict[str, Any]:
    return server.as_dict() | {"owners": list(owners)}


def server_routes(service: Registrations, resource_metadata: str) -> list[BaseRoute]:
    """The routes above, for the admin API's router (``resource_metadata``: its challenge's URL)."""

    async def every(request: Request) -> Response:
        require_role(request.scope["state"]["claims"], READERS, resource_metadata)
        views = [server_view(server, owners) for server, owners in await service.list()]
        return JSONResponse({"servers": views}, headers=NO_STORE)

    async def register(request: Request) -> Response:
        claims = request.scope["state"]["claims"]
        require_role(claims, DECIDERS, resource_metadata)
        added = await service.register(await json_body(request, REGISTER), principal_of(claims))
        view = server_view(*await service.one(added.id))
        return JSONResponse(view, status_code=201, headers=NO_STORE)

    async def one(request: Request) -> Response:
        require_role(request.scope["state"]["claims"], READERS, resource_metadata)
        return JSONResponse(
            server_view(*await service.one(request.path_params["server_id"])), headers=NO_STORE
        )

    async def change(request: Request) -> Response:
        claims = request.scope["state"]["claims"]
        require_role(claims, DECIDERS, resource_metadata)
        found = await json_body(request, CHANGE)
        server_id = request.path_params["server_id"]
        await service.update(server_id, found, principal_of(claims))
        return JSONResponse(server_view(*await service.one(server_id)), headers=NO_STORE)

    async def remove(request: Request) -> Response:
        claims = request.scope["state"]["claims"]
        require_role(claims, DECIDERS, resource_metadata)
        server_id = request.path_params["server_id"]
        removed = await service.remove(server_id, principal_of(claims))
        return JSONResponse(server_view(removed, ()), headers=NO_STORE)

    async def namespaces(request: Request) -> Response:
        require_role(request.scope["state"]["claims"], READERS, resource_metadata)
        views = [{"namespace": ns, "owners": list(owners)} for ns, owners in (await service.owners()).items()]
        return JSONResponse({"namespaces": views}, headers=NO_STORE)

    async def grant(request: Request) -> Response:
        claims = request.scope["state"]["claims"]
        require_role(claims, KEEPERS, resource_metadata)
        person = (await json_body(request, OWNER))["person"]
        namespace = request.path_params["namespace"]
        owners = await service.grant(namespace, person, principal_of(claims))
        return JSONResponse({"namespace": namespace, "owners": list(owners)}, headers=NO_STORE)

    async def revoke(request: Request) -> Response:
        claims = request.scope["state"]["claims"]
        require_role(claims, KEEPERS, resource_metadata)
        namespace, person = request.path_params["namespace"], request.path_params["person"]
        owners = await service.revoke(namespace, person, principal_of(claims))
        return JSONResponse({"namespace": namespace, "owners": list(owners)}, headers=NO_STORE)

    return [
        Route(paths.ADMIN_SERVERS, every, methods=["GET"]),
        Route(paths.ADMIN_SERVERS, register, methods=["POST"]),
        Route(ONE, one, methods=["GET"]),
        Route(ONE, change, methods=["PATCH"]),
        Route(ONE, remove, methods=["DELETE"]),
        Route(paths.ADMIN_NAMESPACES, namespaces, methods=["GET"]),
        Route(OWNERS, grant, methods=["POST"]),
        Route(OWNERS + "/{person}", revoke, methods=["DELETE"]),
    ]
