"""Pending tool definitions (TP-5) in the admin API's OpenAPI document: their operations and
shapes, beside those of :mod:`gateway.admin.openapi` and :mod:`gateway.admin.openapi_schemas`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.admin.openapi_schemas import EPOCH, NOTE, Schema, answer, body, nullable, ref, texts

KEEP = ("admin:security-admin",)
READ = ("admin:auditor", "admin:security-admin", "admin:tool-author")
WRITE_REFUSALS = ("400", "404", "409", "413", "415")

HASH: Schema = {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "SHA-256, lower-case hex"}
DEFINITION: Schema = {"type": "object", "description": "the tool as its upstream defines it (TP-1)"}
PENDING_TOOL = answer(
    {
        "server_id": {"type": "string"},
        "tool": {"type": "string", "description": "the tool's name at its upstream"},
        "hash": HASH,
        "definition": DEFINITION,
        "previous_hash": nullable("string", "the pinned definition's hash; null for a new tool"),
        "first_seen_at": {"type": "number", "description": EPOCH},
        "flags": texts("what screening flagged in it (TS-4..TS-6): never approved by policy (TP-7)"),
        "removed": texts("what screening removed from its text before agents see it (TS-3)"),
        "status": {"type": "string", "enum": ["pending", "rejected"]},
        "decided_by": nullable("string"),
        "decided_at": nullable("number"),
        "reason": {"type": "string"},
        "diff": {"type": "string", "description": "unified diff of the pinned definition's JSON against it"},
    },
    "a tool definition that is not pinned (TP-5)",
)
TOOL_PIN = answer(
    {
        "server_id": {"type": "string"},
        "tool": {"type": "string"},
        "hash": HASH,
        "definition": DEFINITION,
        "approved_by": {"type": "string"},
        "approved_at": {"type": "number", "description": EPOCH},
    },
    "the approved definition of a tool: only a definition of this hash is served",
)
PENDING_TOOL_LIST = answer(
    {"pending": {"type": "array", "items": ref("PendingTool")}}, "by server, then tool"
)
PIN_APPROVE_BODY = body({"hash": HASH, "note": NOTE}, ("hash",), "an approval of the definition reviewed")
PIN_REJECT_BODY = body({"hash": HASH, "reason": NOTE}, ("hash",), "a rejection of the definition reviewed")

TOOL_SCHEMAS: dict[str, Schema] = {
    "PendingTool": PENDING_TOOL,
    "PendingToolList": PENDING_TOOL_LIST,
    "ToolPin": TOOL_PIN,
    "PinApproveBody": PIN_APPROVE_BODY,
    "PinRejectBody": PIN_REJECT_BODY,
}


def tool_paths(operation: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The paths of pending tool definitions, each made by ``operation`` (the document's own)."""
    return {
        "/tools/pending": {
            "get": operation(
                "listPendingTools",
                "tool definitions waiting for approval, with a diff against the pinned one",
                READ,
                ref("PendingToolList"),
                ("400",),
                parameters=("PendingServer",),
            )
        },
        "/tools/pending/{server_id}/{tool}/approve": {
            "post": operation(
                "approvePendingTool",
                "pin the definition reviewed (its hash): the tool is served again",
                KEEP,
                ref("ToolPin"),
                WRITE_REFUSALS,
                parameters=("ServerId", "ToolName"),
                body="PinApproveBody",
                body_required=True,
                also="; never a tool author (no self-approval)",
            )
        },
        "/tools/pending/{server_id}/{tool}/reject": {
            "post": operation(
                "rejectPendingTool",
                "reject the definition reviewed: the tool stays out while its upstream serves it",
                KEEP,
                ref("PendingTool"),
                WRITE_REFUSALS,
                parameters=("ServerId", "ToolName"),
                body="PinRejectBody",
                body_required=True,
            )
        },
    }
