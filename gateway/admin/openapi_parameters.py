"""The parameters of the admin API's operations, for its OpenAPI document (:mod:`gateway.admin.openapi`):
path ids and the query parameters of its lists, as the handlers read them (:mod:`gateway.admin.queries`)."""

from __future__ import annotations

from typing import Any

from gateway.admin.openapi_schemas import Schema


def _path_id(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    }


def _query(name: str, description: str, schema: Schema) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


TEXT = {"type": "string", "maxLength": 512}

PARAMETERS: dict[str, Any] = {
    "RequestId": _path_id("request_id", "an access request's id (req_...)"),
    "GrantId": _path_id("grant_id", "a grant's id (grt_..., or standing:<client id>)"),
    "CallId": _path_id("call_id", "a held call's id"),
    "ServerId": _path_id("server_id", "an upstream server's id"),
    "Namespace": _path_id("namespace", "a namespace: the id of the server(s) registered in it"),
    "Person": _path_id("person", "a person's subject, as their tokens or sessions name them"),
    "ToolName": _path_id("tool", "a tool's name at its upstream server"),
    "PendingServer": _query("server", "only this upstream server's definitions", TEXT),
    "CallStatus": _query(
        "status", "only calls in this status", {"enum": ["pending", "approved", "denied", "expired", "used"]}
    ),
    "ClientId": _query("client_id", "only this client's records", {"type": "string", "maxLength": 512}),
    "RequestStatus": _query(
        "status", "only requests in this status", {"enum": ["pending", "approved", "denied", "expired"]}
    ),
    "GrantStatus": _query(
        "status", "only grants in this status", {"enum": ["active", "expired", "revoked", "suspended"]}
    ),
    "Overdue": _query(
        "overdue",
        "only grants past (true) or not past (false) their review date",
        {"enum": ["true", "false"]},
    ),
    "Since": _query(
        "since",
        "only events at or after this moment: epoch seconds, RFC 3339 (UTC unless an offset is given), "
        "or a length of time before now (90s, 15m, 2h, 7d)",
        TEXT,
    ),
    "Until": _query("until", "only events before this moment (as since)", TEXT),
    "EventTypes": _query("type", "only these event types, comma-separated: token_issued,tool_call", TEXT),
    "EventClient": _query("client_id", "only events whose actor is, or that are about, this client", TEXT),
    "EventSubject": _query("subject", "only events whose actor is, or that are about, this person", TEXT),
    "EventTool": _query("tool", "only events of this exposed tool name (weather__echo)", TEXT),
    "EventOutcome": _query("outcome", "only events of this outcome: granted, refused, forwarded ...", TEXT),
    "Cursor": _query(
        "cursor", "the next_cursor of the previous page", {"type": "string", "minLength": 1, "maxLength": 512}
    ),
    "Limit": _query(
        "limit", "records per page", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    ),
}
