"""Upstream servers and namespace ownership (AD-9) in the admin API's OpenAPI document: their
operations and shapes, beside those of :mod:`gateway.admin.openapi` (the handlers are in
:mod:`gateway.admin.servers_api`, the bodies' checks in :mod:`gateway.admin.server_bodies`).

Only what the API checks is declared (the types; ``id``'s pattern, which the registration
service checks first), so a request the document calls invalid is always refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.admin.openapi_schemas import Schema, answer, body, nullable, ref, texts
from tools_registry.pins import PINNING_POLICIES

READ = ("admin:auditor", "admin:security-admin", "admin:tool-author")
WRITE = ("admin:security-admin", "admin:tool-author")
KEEP = ("admin:security-admin",)
AUTHOR_RULE = (
    "; a tool author only in a namespace they own, and never pinning, foreign_audience or "
    "audit_arguments, nor taking a tool out of call_approval"
)

STRINGS = texts()
SCOPE_MAP: Schema = {"type": "object", "additionalProperties": STRINGS, "description": "scopes by tool name"}
TEXT_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
SECONDS: Schema = {"type": "number", "description": "seconds"}
FIELDS: dict[str, Schema] = {
    "url": {"type": "string", "description": "an MCP server's endpoint (https; http only on loopback)"},
    "openapi": {"type": "string", "description": "a REST API's OpenAPI document URL, fetched now"},
    "base_url": {"type": "string", "description": "with openapi: where its operations are called"},
    "operations": texts("with openapi: only these operations (tool names or operationIds)"),
    "audience": {"type": "string", "description": "the aud its tokens need (default: the url)"},
    "foreign_audience": {"type": "boolean", "description": "a security admin's decision (UP-4)"},
    "tool_scopes": SCOPE_MAP,
    "default_scopes": {"type": ["array", "null"], "items": {"type": "string"}},
    "descriptions": TEXT_MAP,
    "timeout": SECONDS,
    "refresh_interval": SECONDS,
    "input_requests": STRINGS,
    "call_approval": texts('tools each call of which waits for approval ("*": every tool)'),
    "audit_arguments": STRINGS,
    "audit_redact": STRINGS,
    "pinning": {"type": "string", "description": f"one of {', '.join(PINNING_POLICIES)}: a security admin's"},
}
ID: Schema = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$", "description": "also the namespace"}
SERVER = answer(
    {
        "id": {"type": "string"},
        "kind": {"type": "string", "enum": ["mcp", "openapi"]},
        "audience": {"type": "string"},
        "foreign_audience": {"type": "boolean"},
        "tool_scopes": SCOPE_MAP,
        "default_scopes": nullable("array"),
        "descriptions": TEXT_MAP,
        "timeout": {"type": "number"},
        "refresh_interval": {"type": "number"},
        "input_requests": STRINGS,
        "call_approval": STRINGS,
        "audit_arguments": STRINGS,
        "audit_redact": STRINGS,
        "pinning": {"type": "string", "enum": list(PINNING_POLICIES)},
        "source": {"type": "string", "enum": ["config", "store"]},
        "owners": texts("who owns its namespace"),
    },
    "an upstream server; url (MCP) or base_url, openapi, operations and document_sha256 (REST)",
)
NAMESPACE = answer({"namespace": {"type": "string"}, "owners": texts()}, "a namespace and its owners")

SERVER_SCHEMAS: dict[str, Schema] = {
    "Server": SERVER,
    "ServerList": answer({"servers": {"type": "array", "items": ref("Server")}}, "by id"),
    "Namespace": NAMESPACE,
    "NamespaceList": answer({"namespaces": {"type": "array", "items": ref("Namespace")}}, "by name"),
    "RegisterBody": body({"id": ID, **FIELDS}, ("id",), "a new server: url, or openapi and base_url"),
    "ServerChangeBody": body(FIELDS, (), "the members to replace"),
    "OwnerBody": body({"person": {"type": "string"}}, ("person",), "a person's subject"),
}


def server_paths(operation: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The paths of servers and namespaces, each made by ``operation`` (the document's own)."""
    register = operation(
        "registerServer",
        "register an upstream server (an MCP server, or a REST API by its OpenAPI document)",
        WRITE,
        ref("Server"),
        ("400", "409", "413", "415"),
        body="RegisterBody",
        body_required=True,
        also=AUTHOR_RULE,
    )
    register["responses"] = {("201" if k == "200" else k): v for k, v in register["responses"].items()}
    one = ("ServerId",)
    return {
        "/servers": {
            "get": operation(
                "listServers", "every upstream server, with its owners", READ, ref("ServerList"), ()
            ),
            "post": register,
        },
        "/servers/{server_id}": {
            "get": operation(
                "getServer", "one upstream server", READ, ref("Server"), ("404",), parameters=one
            ),
            "patch": operation(
                "changeServer",
                "change an upstream server: the members given replace the stored ones",
                WRITE,
                ref("Server"),
                ("400", "404", "409", "413", "415"),
                parameters=one,
                body="ServerChangeBody",
                also=AUTHOR_RULE,
            ),
            "delete": operation(
                "removeServer",
                "remove an upstream server",
                WRITE,
                ref("Server"),
                ("404", "409"),
                parameters=one,
                also=AUTHOR_RULE,
            ),
        },
        "/namespaces": {
            "get": operation("listNamespaces", "who owns which namespace", READ, ref("NamespaceList"), ())
        },
        "/namespaces/{namespace}/owners": {
            "post": operation(
                "grantNamespace",
                "make a person an owner of a namespace",
                KEEP,
                ref("Namespace"),
                ("400", "404", "413", "415"),
                parameters=("Namespace",),
                body="OwnerBody",
                body_required=True,
            )
        },
        "/namespaces/{namespace}/owners/{person}": {
            "delete": operation(
                "revokeNamespace",
                "withdraw a person's ownership of a namespace",
                KEEP,
                ref("Namespace"),
                ("400", "404"),
                parameters=("Namespace", "Person"),
            )
        },
    }
