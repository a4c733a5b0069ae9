"""The shapes the admin API reads and writes, as JSON Schema (2020-12, as OpenAPI 3.1 takes it).

Written by hand beside the code that makes each answer (:mod:`gateway.admin.health`, the
``public_view`` of :mod:`gateway.approvals`), and held to it by the property run of
``tests/test_admin_openapi.py``, which checks every answer against these shapes. Answers list the
members they always carry as ``required`` and leave the object open, so a member added later does
not break a reader; request bodies are closed, as the API refuses members it does not know.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

EPOCH = "seconds since 1970-01-01T00:00:00Z"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str, description: str = "") -> Schema:
    schema: Schema = {"type": [kind, "null"]}
    return schema | {"description": description} if description else schema


def texts(description: str = "") -> Schema:
    schema: Schema = {"type": "array", "items": {"type": "string"}}
    return schema | {"description": description} if description else schema


def answer(properties: dict[str, Schema], description: str) -> Schema:
    """An answer object: every member listed is always there."""
    return {"type": "object", "description": description, "properties": properties, "required": [*properties]}


def body(properties: dict[str, Schema], required: tuple[str, ...], description: str) -> Schema:
    schema: Schema = {
        "type": "object",
        "description": description,
        "properties": properties,
        "additionalProperties": False,
    }
    return schema | {"required": list(required)} if required else schema


PROBLEM = answer(
    {
        "type": {"type": "string", "const": "about:blank"},
        "title": {"type": "string", "description": "the HTTP status phrase"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "what went wrong, for people"},
        "error": {"type": "string", "description": "the OAuth error code (invalid_request, forbidden, ...)"},
    },
    "RFC 9457 problem details: every refusal and failure of the admin API",
)

VOTE = answer(
    {
        "approver": {"type": "string"},
        "at": {"type": "number", "description": EPOCH},
        "scopes": texts(),
        "resource": {"type": "string"},
        "duration": {"type": "integer"},
        "note": {"type": "string"},
    },
    "one approver's approval, with the terms they approved",
)

ACCESS_REQUEST = answer(
    {
        "request_id": {"type": "string"},
        "client_id": {"type": "string"},
        "scopes": texts("what the agent asked for"),
        "resource": {"type": "string", "description": "the audience the scopes are for"},
        "justification": {"type": "string"},
        "duration": {"type": "integer", "description": "seconds wished, cut to what policy allows"},
        "origin": {"type": "string", "enum": ["agent", "step-up", "consent", "registration"]},
        "created_at": {"type": "number", "description": EPOCH},
        "expires_at": {"type": "number", "description": "when a pending request stops waiting"},
        "subject": nullable("string", "the person the agent acts for, if any"),
        "status": {"type": "string", "enum": ["pending", "approved", "denied", "expired"]},
        "approvers_required": {"type": "integer", "enum": [1, 2]},
        "approver_role": {"type": "string", "enum": ["security-admin", "tool-author"]},
        "votes": {"type": "array", "items": ref("Vote")},
        "decided_at": nullable("number"),
        "decided_by": texts(),
        "grant_id": nullable("string", "the grant an approval made"),
        "granted_scopes": texts(),
        "granted_resource": nullable("string"),
        "granted_until": nullable("number"),
        "reason": {"type": "string", "description": "why it was denied, or the approvers' notes"},
    },
    "an access request",
)

ACCESS_REQUEST_DETAIL = {
    "allOf": [
        ref("AccessRequest"),
        {
            "type": "object",
            "properties": {"held_scopes": texts("every scope the client may be issued now")},
            "required": ["held_scopes"],
        },
    ]
}

GRANT = answer(
    {
        "grant_id": {"type": "string", "description": "standing:<client id> for a client's own scopes"},
        "client_id": {"type": "string"},
        "scopes": texts(),
        "resource": nullable("string", "null: every audience the client may ask for"),
        "source": {"type": "string", "enum": ["config", "store", "registration", "approval", "policy"]},
        "granted_by": texts(),
        "reason": {"type": "string"},
        "created_at": {"type": "number", "description": EPOCH},
        "expires_at": nullable("number"),
        "review_by": nullable("number"),
        "request_id": nullable("string"),
        "revoked_at": nullable("number"),
        "revoked_by": nullable("string"),
        "revoke_reason": {"type": "string"},
        "reviewed_at": nullable("number"),
        "reviewed_by": nullable("string"),
        "review_note": {"type": "string"},
        "suspended_at": nullable("number"),
        "status": {"type": "string", "enum": ["active", "expired", "revoked", "suspended"]},
        "overdue": {"type": "boolean", "description": "past its review date"},
    },
    "a grant: what a client may hold",
)

RULE_TERMS: dict[str, Schema] = {
    "decision": {"type": "string", "enum": ["auto", "approval", "never"]},
    "max_duration": {"type": "integer", "description": "seconds"},
    "approver_role": {"type": "string", "enum": ["security-admin", "tool-author"]},
    "approvers": {"type": "integer", "enum": [1, 2]},
}

POLICY = answer(
    {
        "version": {"type": "string"},
        "default": answer(RULE_TERMS, "the rule for every scope no rule names"),
        "rules": {"type": "array", "items": answer({"scope": {"type": "string"}, **RULE_TERMS}, "a rule")},
        "request_lifetime": {"type": "integer"},
        "poll_interval": {"type": "integer"},
        "step_up": {"type": "boolean"},
        "review_interval": {"type": "integer"},
        "suspend_overdue": {"type": "boolean"},
    },
    "the approval policy in force",
)


def page_of(item: str, order: str = "oldest first") -> Schema:
    return answer(
        {
            "items": {"type": "array", "items": ref(item)},
            "next_cursor": nullable("string", "pass as ?cursor= for the next page; null on the last"),
        },
        f"one page of {item} records, {order}",
    )


HELD_CALL = answer(
    {
        "call_id": {"type": "string"},
        "tool": {"type": "string", "description": "the exposed tool name"},
        "server_id": {"type": "string"},
        "upstream_name": {"type": "string"},
        "arguments": {"description": "the call's exact arguments, as the agent sent them"},
        "fingerprint": {"type": "string", "description": "what an identical call must match"},
        "client_id": {"type": "string"},
        "subject": {"type": "string"},
        "person": nullable("string", "the person the call was made for, if any"),
        "actor_chain": texts(),
        "held_because": {"type": "string", "enum": ["registration", "destructive"]},
        "approver": {"type": "string", "enum": ["security-admin", "person"]},
        "created_at": {"type": "number", "description": EPOCH},
        "expires_at": {"type": "number", "description": "until then it waits, or once approved may pass"},
        "status": {"type": "string", "enum": ["pending", "approved", "denied", "expired", "used"]},
        "decided_at": nullable("number"),
        "decided_by": nullable("string"),
        "reason": {"type": "string"},
        "used_at": nullable("number"),
    },
    "a tool call held for approval (AP-6)",
)

HEALTH = answer(
    {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "replica": answer(
            {"id": {"type": "string"}, "started_at": nullable("string"), "note": {"type": "string"}},
            "the replica that answered",
        ),
        "store": answer(
            {"status": {"type": "string", "enum": ["ok", "unavailable"]}, "backend": {"type": "string"}},
            "the store's state and backend kind",
        ),
        "background": {"type": "object", "additionalProperties": {"type": "object"}},
        "upstreams": {"type": "array", "items": {"type": "object"}},
    },
    "this replica's health; times are RFC 3339 (UTC)",
)

AUDIT_EVENT: Schema = {
    "type": "object",
    "description": (
        "one event of the audit trail with its place in the chain; a body that is not an event any "
        "more (the trail was changed: run audit verify) is given as it is stored, under body"
    ),
    "properties": {
        "seq": {"type": "integer", "minimum": 1, "description": "its sequence number in the chain"},
        "prev_hash": {"type": "string", "description": "the hash of the event before it (hex)"},
        "hash": {"type": "string", "description": "SHA-256 of prev_hash then the stored body (hex)"},
        "id": {"type": "string", "description": "a UUIDv7"},
        "at": {"type": "number", "description": EPOCH},
        "type": {"type": "string", "description": "a type of the catalogue (docs/audit.md)"},
        "outcome": {"type": "string"},
        "actor": {"type": "object", "description": "client_id, subject, chain, via: who acted, and how"},
        "fields": {"type": "object", "description": "the facts that explain it; never a token or secret"},
        "body": {"type": "string"},
    },
    "required": ["seq", "prev_hash", "hash"],
}

NOTE: Schema = {"type": "string", "maxLength": 1000, "description": "printable text, for the record"}
APPROVE_BODY = body(
    {
        "scopes": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "description": "a subset of the request's scopes (or narrower ones); default: all",
        },
        "resource": {"type": "string", "description": "the requested resource or a path under it"},
        "duration": {"type": "integer", "minimum": 1, "description": "seconds, at most the request's"},
        "note": NOTE,
    },
    (),
    "an approval; every member is optional, and an empty body approves the request as it stands",
)
REASON: Schema = {"type": "string", "minLength": 1, "maxLength": 1000, "description": "printable text"}
DENY_BODY = body({"reason": REASON}, ("reason",), "a denial; the agent reads the reason")
REVOKE_BODY = body({"reason": REASON}, ("reason",), "a revocation")
REVIEW_BODY = body({"note": NOTE}, (), "a re-certification; the body may be empty")

HELD_CALL_LIST = answer({"calls": {"type": "array", "items": ref("HeldCall")}}, "held calls, oldest first")
CALL_APPROVE_BODY = body({"note": NOTE}, (), "an approval of one held call; the body may be empty")

SCHEMAS: dict[str, Schema] = {
    "Problem": PROBLEM,
    "Health": HEALTH,
    "Vote": VOTE,
    "AccessRequest": ACCESS_REQUEST,
    "AccessRequestDetail": ACCESS_REQUEST_DETAIL,
    "AccessRequestPage": page_of("AccessRequest"),
    "Grant": GRANT,
    "GrantPage": page_of("Grant"),
    "Policy": POLICY,
    "AuditEvent": AUDIT_EVENT,
    "AuditEventPage": page_of("AuditEvent", "oldest first (by sequence number)"),
    "HeldCall": HELD_CALL,
    "HeldCallList": HELD_CALL_LIST,
    "ApproveBody": APPROVE_BODY,
    "DenyBody": DENY_BODY,
    "RevokeBody": REVOKE_BODY,
    "ReviewBody": REVIEW_BODY,
    "CallApproveBody": CALL_APPROVE_BODY,
}
