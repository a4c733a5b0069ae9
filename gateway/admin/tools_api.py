"""Pending tool definitions at the admin API (TP-5): read them, approve or reject one.

    GET  /admin/api/v1/tools/pending?server=ID                  the definitions waiting; a reader
    POST /admin/api/v1/tools/pending/{server_id}/{tool}/approve {"hash": "...", "note": "..."}
    POST /admin/api/v1/tools/pending/{server_id}/{tool}/reject  {"hash": "...", "reason": "..."}

Any admin role reads (a tool author sees what waits for the tools they registered); deciding is
the pin desk's rule (:mod:`gateway.upstream.pin_desk`): the ``security-admin`` role only, so a
tool author never approves their own tools. ``hash`` is the one the reviewer read: a definition
that changed since is refused (409).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway import paths
from gateway.admin.json_bodies import Member, json_body, text
from gateway.admin.queries import query_of
from gateway.admin.roles import READERS, principal_of, require_role
from gateway.claims import Claims
from gateway.errors import NO_STORE, InvalidRequest
from gateway.upstream.pin_desk import PinDesk

HASH = re.compile(r"[0-9a-f]{64}")


def definition_hash(value: Any, name: str) -> str:
    if not isinstance(value, str) or not HASH.fullmatch(value):
        raise InvalidRequest(f"{name} must be a SHA-256 in lower-case hex (64 characters)")
    return value


APPROVE = {"hash": Member(definition_hash, required=True), "note": Member(text)}
REJECT = {"hash": Member(definition_hash, required=True), "reason": Member(text)}
ONE = paths.ADMIN_TOOLS_PENDING + "/{server_id}/{tool}"


def tool_routes(desk: PinDesk, resource_metadata: str) -> list[BaseRoute]:
    """The routes above, for the admin API's router (``resource_metadata``: its challenge's URL)."""

    async def pending(request: Request) -> Response:
        require_role(request.scope["state"]["claims"], READERS, resource_metadata)
        server_id = query_of(request, ("server",)).get("server")
        reviewed = await desk.review(server_id)
        views = [definition.public_view(diff) for definition, diff in reviewed]
        return JSONResponse({"pending": views}, headers=NO_STORE)

    async def approve(request: Request) -> Response:
        claims: Claims = request.scope["state"]["claims"]
        require_role(claims, READERS, resource_metadata)
        found = await json_body(request, APPROVE)
        server_id, tool = request.path_params["server_id"], request.path_params["tool"]
        pin = await desk.approve(server_id, tool, found["hash"], principal_of(claims), found.get("note", ""))
        return JSONResponse(pin.public_view(), headers=NO_STORE)

    async def reject(request: Request) -> Response:
        claims: Claims = request.scope["state"]["claims"]
        require_role(claims, READERS, resource_metadata)
        found = await json_body(request, REJECT)
        server_id, tool = request.path_params["server_id"], request.path_params["tool"]
        reason = found.get("reason", "")
        rejected = await desk.reject(server_id, tool, found["hash"], principal_of(claims), reason)
        return JSONResponse(rejected.public_view(), headers=NO_STORE)

    return [
        Route(paths.ADMIN_TOOLS_PENDING, pending, methods=["GET"]),
        Route(ONE + "/approve", approve, methods=["POST"]),
        Route(ONE + "/reject", reject, methods=["POST"]),
    ]
