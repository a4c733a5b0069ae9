"""Reading one JSON-RPC message from an agent's POST to ``/mcp``: size first, then shape."""

from __future__ import annotations

import json
from typing import Any

from mcp_types.jsonrpc import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR
from starlette.requests import Request

from gateway.errors import JSONRPCError
from gateway.request_body import BodyTooLarge, read_capped


async def read_jsonrpc_request(request: Request, max_bytes: int) -> dict[str, Any]:
    """The request body as one JSON-RPC request or notification; a JSONRPCError saying what is wrong
    (413 over ``max_bytes``, 400 for what is not JSON or not JSON-RPC)."""
    try:
        raw = await read_capped(request, max_bytes)
    except BodyTooLarge as exc:
        raise JSONRPCError(INVALID_REQUEST, str(exc), status=413) from None
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise JSONRPCError(PARSE_ERROR, "Parse error", status=400) from None
    if not isinstance(body, dict) or body.get("jsonrpc") != "2.0" or not isinstance(body.get("method"), str):
        raise JSONRPCError(
            INVALID_REQUEST, "the body must be one JSON-RPC request or notification", status=400
        )
    if "id" in body and (isinstance(body["id"], bool) or not isinstance(body["id"], str | int)):
        raise JSONRPCError(INVALID_REQUEST, "the request id must be a string or a number", status=400)
    if "params" in body and not isinstance(body["params"], dict):
        raise JSONRPCError(INVALID_PARAMS, "params must be an object", request_id=body.get("id"), status=400)
    return body
