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
:mod:`gateway.admin.routes` lists them.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway import paths
from gateway.admin.roles import READERS, ROLES, require_role
from gateway.approvals.call_desk import CallDesk
from gateway.approvals.decisions import Principal
from gateway.approvals.held_calls import CALL_STATUSES
from gateway.claims import Claims
from gateway.clock import Clock
from gateway.errors import NO_STORE, InvalidRequest
from gateway.request_body import BodyTooLarge, read_capped, unique_members
from tools_registry.scopes import covers

MAX_DECISION_BODY = 8 * 1024


def principal_of(claims: Claims) -> Principal:
    """Who acts with an admin token: its subject, with the roles its scopes cover
    (``admin:security-admin`` -> ``security-admin``)."""
    return Principal(
        claims.subject, tuple(role.split(":", 1)[1] for role in ROLES if covers(claims.scopes, role))
    )


def call_routes(desk: CallDesk, clock: Clock, resource_metadata: str) -> list[BaseRoute]:
    """The routes above, for the admin API's router (``resource_metadata``: its challenge's URL)."""

    async def listed(request: Request) -> Response:
        require_role(request.scope["state"]["claims"], READERS, resource_metadata)
        status = request.query_params.get("status")
        if status is not None and status not in CALL_STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(CALL_STATUSES)}")
        now = clock.now()
        calls = [call.public_view(now) for call in await desk.list(status)]
        return JSONResponse({"calls": calls}, headers=NO_STORE)

    async def one(request: Request) -> Response:
        require_role(request.scope["state"]["claims"], READERS, resource_metadata)
        call = await desk.get(request.path_params["call_id"])
        return JSONResponse(call.public_view(clock.now()), headers=NO_STORE)

    async def approve(request: Request) -> Response:
        claims: Claims = request.scope["state"]["claims"]
        body = await _decision_body(request)
        note = _text(body, "note")
        call = await desk.approve(
            request.path_params["call_id"], principal_of(claims), via=claims.client_id, note=note
        )
        return JSONResponse(call.public_view(clock.now()), headers=NO_STORE)

    async def deny(request: Request) -> Response:
        claims: Claims = request.scope["state"]["claims"]
        reason = _text(await _decision_body(request), "reason")
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


async def _decision_body(request: Request) -> dict[str, Any]:
    """The JSON object of a decision; an empty body is an empty object."""
    try:
        raw = await read_capped(request, MAX_DECISION_BODY)
    except BodyTooLarge as exc:
        raise InvalidRequest(str(exc)) from None
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, object_pairs_hook=unique_members)
    except (ValueError, RecursionError):
        raise InvalidRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string")
    return value
