"""Held calls at the admin API (AP-6): approvers list and read the calls waiting for them, and
approve or deny one.

    GET  /admin/api/v1/calls?status=pending      every held call (or those in one status); a reader
    GET  /admin/api/v1/calls/{id}                one, with its exact arguments; a reader
    POST /admin/api/v1/calls/{id}/approve        {"note": "..."} (optional)
    POST /admin/api/v1/calls/{id}/deny           {"reason": "..."} (required)

Reading needs one of the admin roles (:data:`~gateway.admin.roles.READERS`). Deciding is the
desk's rule (:func:`gateway.approvals.call_desk.check_decider`): the ``security-admin`` role, or,
when policy makes the person the approver, the token's subject being that person; never through
the client that made the call. The routes go under the admin API's bearer check; the router of
:mod:`gateway.admin.routes` lists them. Queries and bodies are read as everywhere in the admin API
(:mod:`gateway.admin.queries`, :mod:`gateway.admin.json_bodies`): unknown parameters and members
are refused.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway import paths
from gateway.admin.json_bodies import Member, json_body, text
from gateway.admin.queries import one_of, query_of
from gateway.admin.roles import READERS, principal_of, require_role
from gateway.approvals.call_desk import CallDesk
from gateway.approvals.held_calls import CALL_STATUSES
from gateway.claims import Claims
from gateway.clock import Clock
from gateway.errors import NO_STORE

APPROVE = {"note": Member(text)}
DENY = {"reason": Member(text, required=True)}


def call_routes(desk: CallDesk, clock: Clock, resource_metadata: str) -> list[BaseRoute]:
    """The routes above, for the admin API's router (``resource_metadata``: its challenge's URL)."""

    async def listed(request: Request) -> Response:
        require_role(request.scope["state"]["claims"], READERS, resource_metadata)
        status = one_of(query_of(request, ("status",)).get("status"), "status", CALL_STATUSES)
        now = clock.now()
        calls = [call.public_view(now) for call in await desk.list(status)]
        return JSONResponse({"calls": calls}, headers=NO_STORE)

    async def one(request: Request) -> Response:
        require_role(request.scope["state"]["claims"], READERS, resource_metadata)
        call = await desk.get(request.path_params["call_id"])
        return JSONResponse(call.public_view(clock.now()), headers=NO_STORE)

    async def approve(request: Request) -> Response:
        claims: Claims = request.scope["state"]["claims"]
        note = (await json_body(request, APPROVE)).get("note", "")
        call = await desk.approve(
            request.path_params["call_id"], principal_of(claims), via=claims.client_id, note=note
        )
        return JSONResponse(call.public_view(clock.now()), headers=NO_STORE)

    async def deny(request: Request) -> Response:
        claims: Claims = request.scope["state"]["claims"]
        reason = (await json_body(request, DENY))["reason"]
        call = await desk.deny(
            request.path_params["call_id"], principal_of(claims), reason, via=claims.client_id
        )
        return JSONResponse(call.public_view(clock.now()), headers=NO_STORE)

    return [
        Route(paths.ADMIN_CALLS, listed, methods=["GET"]),
        Route(paths.ADMIN_CALLS + "/{call_id}", one, methods=["GET"]),
        Route(paths.ADMIN_CALLS + "/{call_id}/approve", approve, methods=["POST"]),
        Route(paths.ADMIN_CALLS + "/{call_id}/deny", deny, methods=["POST"]),
    ]
