"""The MCP endpoint (Streamable HTTP) for both protocol eras.

    2026-07-28 (modern): no handshake, no session; every POST carries ``MCP-Protocol-Version``,
        ``Mcp-Method`` (and ``Mcp-Name`` for tools/call) and a ``params._meta`` envelope, checked
        by the SDK's own ladder (``mcp.shared.inbound``); ``server/discover`` replaces initialize.
    2025-03-26 … 2025-11-25 (handshake): ``initialize`` opens a session bound to the principal;
        later requests carry ``Mcp-Session-Id`` (missing 400, unknown or not yours 404); DELETE
        ends it; notifications are answered 202.

The era is chosen by the ``MCP-Protocol-Version`` header: a handshake revision, or no header, is
the handshake era; anything else routes to the modern path (an unknown revision gets -32022).
Answers are buffered JSON (a tools/call may stream: :mod:`tool_calls`). GET offers no stream (405).
Bearer checks happen before this endpoint (``bearer.py``): ``scope["state"]["claims"]``.
"""

from __future__ import annotations

from typing import Any

from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
    unsupported_protocol_version_rejection,
)
from mcp_types.jsonrpc import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Send

from gateway.claims import Claims
from gateway.errors import JSONRPCError
from gateway.resource.call_audit import CallAudit
from gateway.resource.jsonrpc_request import read_jsonrpc_request
from gateway.resource.mcp_stream import stream_target
from gateway.resource.sessions import SessionStore
from gateway.resource.step_up import StepUpRequests
from gateway.resource.tool_calls import CallGate, ToolCalls
from gateway.resource.tool_directory import CatalogDirectory
from gateway.upstream.forwarding import ToolForwarder

SERVER_INFO = {"name": "mcp-gateway", "version": "0.1.0"}
SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"
OWS = " \t"
"""RFC 9110 §5.5: a field value excludes leading and trailing whitespace."""
DEFAULT_ASSUMED_VERSION = "2025-03-26"


class McpEndpoint:
    def __init__(
        self,
        *,
        directory: CatalogDirectory,
        forwarder: ToolForwarder,
        sessions: SessionStore,
        resource_metadata_url: str,
        max_body_bytes: int,
        step_up: StepUpRequests,
        gate: CallGate,
        audit: CallAudit,
    ) -> None:
        self._directory = directory
        self._audit = audit
        self._tool_calls = ToolCalls(
            directory=directory,
            forwarder=forwarder,
            resource_metadata_url=resource_metadata_url,
            step_up=step_up,
            gate=gate,
            audit=audit,
        )
        self._sessions = sessions
        self._max_body_bytes = max_body_bytes

    # -- HTTP ------------------------------------------------------------------------------
    async def handle(self, request: Request, send: Send) -> Response:
        """The answer to one request; a refusal is raised as a :class:`JSONRPCError`."""
        if request.method == "POST":
            return await self._post(request, stream_target(request, send))
        if request.method == "DELETE":
            return await self._delete(request)
        return Response(status_code=405, headers={"Allow": "POST, DELETE"})

    async def _post(self, request: Request, stream_to: Send | None) -> Response:
        body = await read_jsonrpc_request(request, self._max_body_bytes)
        claims: Claims = request.scope["state"]["claims"]
        version = request.headers.get("mcp-protocol-version")
        version = version.strip(OWS) if version is not None else None
        # Only the handshake revisions (or no header: 2025-03-26) take the handshake path; any
        # other value goes to the modern ladder, which answers an unknown one -32022 naming the
        # supported revisions (as the SDK's session manager routes).
        if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            return await self._modern(request, body, claims, version, stream_to)
        return await self._handshake(request, body, claims, stream_to)

    async def _delete(self, request: Request) -> Response:
        claims: Claims = request.scope["state"]["claims"]
        session_id = request.headers.get("mcp-session-id", "")
        if not session_id:
            raise JSONRPCError(INVALID_REQUEST, "Mcp-Session-Id header is required", status=400)
        if await self._sessions.find(session_id, claims.principal) is None:
            raise JSONRPCError(INVALID_REQUEST, "session not found", status=404)
        await self._sessions.end(session_id)
        return Response(status_code=204)

    # -- 2026-07-28 --------------------------------------------------------------------------
    async def _modern(
        self,
        request: Request,
        body: dict[str, Any],
        claims: Claims,
        version: str,
        stream_to: Send | None,
    ) -> Response:
        request_id = body.get("id")
        if "id" not in body:
            unsupported = unsupported_protocol_version_rejection(version)
            if unsupported is not None:
                self._reject(unsupported, None)
            return Response(status_code=202)
        duplicated = find_duplicated_routing_header(
            [(k.decode("latin-1"), "") for k, _ in request.scope["headers"]]
        )
        if duplicated is not None:
            self._reject(
                InboundLadderRejection(-32020, f"{duplicated} header appears more than once"), request_id
            )
        headers = {name: value.strip(OWS) for name, value in request.headers.items()}
        verdict = classify_inbound_request(body, headers=headers)
        if isinstance(verdict, InboundLadderRejection):
            self._reject(verdict, request_id)
        try:
            result = await self._dispatch(body, claims, modern=True, stream_to=stream_to)
        except JSONRPCError as exc:  # 2026-07-28: one table maps every JSON-RPC error to its HTTP status
            if exc.status == 200:
                exc.status = ERROR_CODE_HTTP_STATUS.get(exc.code, 200)
            raise
        if isinstance(result, Response):
            return result
        result.setdefault("resultType", "complete")
        return JSONResponse({"jsonrpc": "2.0", "id": request_id, "result": result})

    @staticmethod
    def _reject(rejection: InboundLadderRejection, request_id: object) -> None:
        raise JSONRPCError(
            rejection.code,
            rejection.message,
            request_id=request_id,
            status=ERROR_CODE_HTTP_STATUS.get(rejection.code, 400),
            data=rejection.data,
        )

    # -- 2025-03-26 … 2025-11-25 -----------------------------------------------------------------
    async def _handshake(
        self, request: Request, body: dict[str, Any], claims: Claims, stream_to: Send | None
    ) -> Response:
        request_id = body.get("id")
        principal = claims.principal
        if body["method"] == "initialize":
            return await self._initialize(body, principal)
        session_id = request.headers.get("mcp-session-id")
        if not session_id:
            raise JSONRPCError(
                INVALID_REQUEST, "Mcp-Session-Id header is required", request_id=request_id, status=400
            )
        if await self._sessions.find(session_id, principal) is None:
            raise JSONRPCError(INVALID_REQUEST, "session not found", request_id=request_id, status=404)
        if "id" not in body:
            return Response(status_code=202)
        result = await self._dispatch(body, claims, modern=False, stream_to=stream_to)
        if isinstance(result, Response):
            return result
        return JSONResponse({"jsonrpc": "2.0", "id": request_id, "result": result})

    async def _initialize(self, body: dict[str, Any], principal: str) -> Response:
        if "id" not in body:
            raise JSONRPCError(INVALID_REQUEST, "initialize must be a request", status=400)
        requested = body.get("params", {}).get("protocolVersion")
        version = requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
        session_id = await self._sessions.create(principal, version)
        result = {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": SERVER_INFO,
        }
        return JSONResponse(
            {"jsonrpc": "2.0", "id": body["id"], "result": result}, headers={"Mcp-Session-Id": session_id}
        )

    # -- methods -----------------------------------------------------------------------------
    async def _dispatch(
        self, body: dict[str, Any], claims: Claims, modern: bool, stream_to: Send | None
    ) -> dict[str, Any] | Response:
        method, request_id = body["method"], body.get("id")
        params: dict[str, Any] = body.get("params") or {}
        if method == "ping" and not modern:  # 2026-07-28 removed ping
            return {}
        if method == "tools/list":
            cursor = params.get("cursor")
            if cursor is not None and not isinstance(cursor, str):
                raise JSONRPCError(
                    INVALID_PARAMS, "cursor must be a string", request_id=request_id, status=400
                )
            try:
                tools, next_cursor = self._directory.visible(claims.scopes, cursor)
            except ValueError:
                raise JSONRPCError(
                    INVALID_PARAMS, "invalid cursor", request_id=request_id, status=400
                ) from None
            self._audit.listed(claims, len(tools), self._directory.hidden_from(claims.scopes))
            result: dict[str, Any] = {"tools": tools}
            if next_cursor is not None:
                result["nextCursor"] = next_cursor
            if modern:
                result.update(ttlMs=self._directory.ttl_ms, cacheScope="private")
            return result
        if method == "tools/call":
            return await self._tool_calls.call(params, claims, request_id, modern, stream_to)
        if method == "server/discover" and modern:
            return {
                "supportedVersions": list(MODERN_PROTOCOL_VERSIONS),
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": SERVER_INFO,
                "ttlMs": self._directory.ttl_ms,
                "cacheScope": "private",
                "_meta": {SERVER_INFO_META_KEY: dict(SERVER_INFO)},
            }
        raise JSONRPCError(
            METHOD_NOT_FOUND,
            f"method {str(method)[:64]!r} not found",
            request_id=request_id,
            status=ERROR_CODE_HTTP_STATUS[METHOD_NOT_FOUND] if modern else 200,
        )
