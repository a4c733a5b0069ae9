"""The admin API described as an OpenAPI 3.1 document, written as data.

Served at ``GET /admin/api/v1/openapi.json`` behind the same bearer check as every other admin
path, to any admin role: a map of the API is information about it (AD-2 keeps the API from being
mapped without a token, and the document does not undo that). Paths are relative to the server
URL, ``<public URL>/admin/api/v1``. The shapes are in :mod:`gateway.admin.openapi_schemas`; this
module lists the operations, what each takes, which roles it needs, and what it may answer.

Roles are listed per operation as security requirements (OpenAPI 3.1 lets a requirement of a
non-OAuth scheme name roles): several requirements mean any one of them will do.
"""

from __future__ import annotations

from typing import Any

from gateway.admin.openapi_parameters import PARAMETERS
from gateway.admin.openapi_schemas import SCHEMAS, Schema, ref
from gateway.admin.openapi_servers import SERVER_SCHEMAS, server_paths
from gateway.admin.openapi_tools import TOOL_SCHEMAS, tool_paths

SCHEME = "adminToken"
READ = ("admin:auditor", "admin:security-admin", "admin:tool-author")
DECIDE = ("admin:security-admin", "admin:tool-author")
KEEP = ("admin:security-admin",)
AUDIT_READ = ("admin:auditor", "admin:security-admin")
CALL_DECIDERS = ("admin:security-admin",)
"""Who approves held calls, unless policy makes the person the call was made for its approver."""
PERSON_DECIDES = (
    "; or the person the call was made for, when policy makes them its approver; never through the"
    " client that made the call"
)
WRITE_REFUSALS = ("400", "404", "409", "413", "415")

PROBLEMS = {
    "400": "a query parameter or body member is missing, unknown, repeated or of the wrong type",
    "401": "no token, or a token that is not a live admin API token of this gateway",
    "403": "the token lacks the role, or the rules refuse this caller (no self-approval)",
    "404": "no such record, path or version",
    "409": "the record is no longer in a state that allows this (decided, revoked, approved already)",
    "413": "the body is larger than 16 KiB",
    "415": "the body is not application/json",
    "503": "the state store does not answer; retry",
}


def _problem(status: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/Problem{status}"}


def _operation(
    operation_id: str,
    summary: str,
    roles: tuple[str, ...],
    answer: Schema,
    refusals: tuple[str, ...],
    *,
    parameters: tuple[str, ...] = (),
    body: str | None = None,
    body_required: bool = False,
    also: str = "",
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "done", "content": {"application/json": {"schema": answer}}},
        **{status: _problem(status) for status in ("401", "403", *refusals, "503")},
        "default": {"$ref": "#/components/responses/ProblemOther"},
    }
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "description": f"Roles: {', '.join(roles)} (any one){also}.",
        "security": [{SCHEME: [role]} for role in roles],
        "responses": dict(sorted(responses.items(), key=lambda item: item[0])),
    }
    if parameters:
        operation["parameters"] = [{"$ref": f"#/components/parameters/{name}"} for name in parameters]
    if body is not None:
        operation["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": ref(body)}},
        }
    return operation


def _responses() -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": ref("Problem")}}
    found = {f"Problem{code}": {"description": text, "content": problem} for code, text in PROBLEMS.items()}
    other = "a fault of the gateway's own (500), which says nothing more"
    return found | {"ProblemOther": {"description": other, "content": problem}}


def _paths() -> dict[str, Any]:
    requests, grants = "/access-requests", "/grants"
    paging = ("Cursor", "Limit")
    return {
        "/health": {"get": _operation("health", "this replica's health report", READ, ref("Health"), ())},
        "/openapi.json": {"get": _operation("openapi", "this document", READ, {"type": "object"}, ())},
        requests: {
            "get": _operation(
                "listAccessRequests",
                "access requests, oldest first, a page at a time",
                READ,
                ref("AccessRequestPage"),
                ("400",),
                parameters=("RequestStatus", "ClientId", *paging),
            )
        },
        requests + "/{request_id}": {
            "get": _operation(
                "getAccessRequest",
                "one access request, with the scopes its client holds now",
                READ,
                ref("AccessRequestDetail"),
                ("404",),
                parameters=("RequestId",),
            )
        },
        requests + "/{request_id}/approve": {
            "post": _operation(
                "approveAccessRequest",
                "approve (all or a narrower part); with two approvers, the first leaves it pending",
                DECIDE,
                ref("AccessRequestDetail"),
                WRITE_REFUSALS,
                parameters=("RequestId",),
                body="ApproveBody",
            )
        },
        requests + "/{request_id}/deny": {
            "post": _operation(
                "denyAccessRequest",
                "deny, with the reason the agent will read",
                DECIDE,
                ref("AccessRequestDetail"),
                WRITE_REFUSALS,
                parameters=("RequestId",),
                body="DenyBody",
                body_required=True,
            )
        },
        grants: {
            "get": _operation(
                "listGrants",
                "grants (standing and approved), oldest first, a page at a time",
                READ,
                ref("GrantPage"),
                ("400",),
                parameters=("ClientId", "GrantStatus", "Overdue", *paging),
            )
        },
        grants + "/{grant_id}": {
            "get": _operation("getGrant", "one grant", READ, ref("Grant"), ("404",), parameters=("GrantId",))
        },
        grants + "/{grant_id}/revoke": {
            "post": _operation(
                "revokeGrant",
                "end an approved grant now, and every live token that carries it",
                KEEP,
                ref("Grant"),
                WRITE_REFUSALS,
                parameters=("GrantId",),
                body="RevokeBody",
                body_required=True,
            )
        },
        grants + "/{grant_id}/review": {
            "post": _operation(
                "reviewGrant",
                "re-certify an approved grant: its next review date moves on",
                KEEP,
                ref("Grant"),
                WRITE_REFUSALS,
                parameters=("GrantId",),
                body="ReviewBody",
            )
        },
        "/calls": {
            "get": _operation(
                "listHeldCalls",
                "tool calls held for approval, oldest first",
                READ,
                ref("HeldCallList"),
                ("400",),
                parameters=("CallStatus",),
            )
        },
        "/calls/{call_id}": {
            "get": _operation(
                "getHeldCall",
                "one held call, with its exact arguments",
                READ,
                ref("HeldCall"),
                ("404",),
                parameters=("CallId",),
            )
        },
        "/calls/{call_id}/approve": {
            "post": _operation(
                "approveHeldCall",
                "let the same call pass once",
                CALL_DECIDERS,
                ref("HeldCall"),
                WRITE_REFUSALS,
                parameters=("CallId",),
                body="CallApproveBody",
                also=PERSON_DECIDES,
            )
        },
        "/calls/{call_id}/deny": {
            "post": _operation(
                "denyHeldCall",
                "refuse the call; the agent is told the reason",
                CALL_DECIDERS,
                ref("HeldCall"),
                WRITE_REFUSALS,
                parameters=("CallId",),
                body="DenyBody",
                body_required=True,
                also=PERSON_DECIDES,
            )
        },
        **tool_paths(_operation),
        **server_paths(_operation),
        "/audit/events": {
            "get": _operation(
                "searchAuditEvents",
                "the audit trail's events matching every criterion given, oldest first, a page at a time",
                AUDIT_READ,
                ref("AuditEventPage"),
                ("400",),
                parameters=(
                    "Since",
                    "Until",
                    "EventTypes",
                    "EventClient",
                    "EventSubject",
                    "EventTool",
                    "EventOutcome",
                    *paging,
                ),
            )
        },
        "/policy": {"get": _operation("getPolicy", "the approval policy in force", READ, ref("Policy"), ())},
    }


def openapi_document(server_url: str, token_endpoint: str, resource: str) -> dict[str, Any]:
    """The whole document for a gateway whose admin API v1 is at ``server_url``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MCP gateway admin API",
            "version": "1",
            "description": (
                "Operators' API of the MCP gateway: health, access requests, grants, the approval "
                "policy and the audit trail. Every call needs a bearer token from "
                f"{token_endpoint} with resource={resource} "
                "whose scopes hold a role: admin:security-admin, admin:tool-author or admin:auditor "
                "(admin holds all three). Times are seconds since the epoch unless said otherwise."
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{SCHEME: [role]} for role in READ],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": f"an access token of this gateway minted for {resource}",
                }
            },
            "schemas": SCHEMAS | TOOL_SCHEMAS | SERVER_SCHEMAS,
            "parameters": PARAMETERS,
            "responses": _responses(),
        },
    }
