"""The MCP endpoint (Streamable HTTP) for both protocol eras.

    2026-07-28 (modern): no handshake, no session; every POST carries ``MCP-Protocol-Version``,
        ``Mcp-Method`` (and ``Mcp-Name`` for tools/call) and a ``params._meta`` envelope, checked
        by the SDK's own ladder (``mcp.shared.inbound``); ``server/discover`` replaces initialize.
    2025-03-26 … 2025-11-25 (handshake): ``initialize`` opens a session bound to the principal;
        later requests carry ``Mcp-Session-Id`` (missing 400, unknown or not yours 404); DELETE
        ends it; notifications are answered 202.

The era is chosen by the ``MCP-Protocol-Version`` header: a handshake revision, or no header, is
the handshake era; anything else routes to the modern path (an unknown revision gets -32022).
Answers are buffered JSON. GET offers no stream (405).
Bearer checks happen before this endpoint (``bearer.py``): ``scope["state"]["claims"]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
    unsupported_protocol_version_rejection,
)
from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from gateway.errors import JSONRPCError, bearer_challenge, render_jsonrpc_error
from gateway.request_body import BodyTooLarge, read_capped
from gateway.resource.sessions import SessionStore, principal_of
from gateway.upstream.forwarding import ToolForwarder, UpstreamTarget

SERVER_INFO = {"name": "mcp-gateway", "version": "0.1.0"}
SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"
OWS = " \t"
"""RFC 9110 §5.5: a field value excludes leading and trailing whitespace."""
DEFAULT_ASSUMED_VERSION = "2025-03-26"
INSUFFICIENT_SCOPE = -32003


class CatalogEntry(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def server_id(self) -> str: ...
    @property
    def upstream_name(self) -> str: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...
    @property
    def server(self) -> UpstreamTarget: ...


class ToolDirectory(Protocol):
    """What the endpoint needs of the catalogue (``tools_registry`` provides it)."""

    def visible(
        self, granted: tuple[str, ...], cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]: ...
    def lookup(self, name: str) -> CatalogEntry | None: ...
    def unavailable(self, name: str) -> str | None: ...
    def missing_scopes(self, granted: tuple[str, ...], required: tuple[str, ...]) -> tuple[str, ...]: ...
    @property
    def ttl_ms(self) -> int: ...


def _stream_target(request: Request, send: Send) -> Send | None:
    """Where an SSE answer may go: only to an agent that accepts ``text/event-stream``."""
    return send if "text/event-stream" in request.headers.get("accept", "") else None


def _sse(message: Mapping[str, Any]) -> bytes:
    return b"event: message\r\ndata: " + json.dumps(message, separators=(",", ":")).encode() + b"\r\n\r\n"


class _SSEReply:
    """Turns a tool call's answer into an SSE stream the moment the upstream sends a notification
    before its answer (progress, log messages); until then nothing is sent and the answer can
    still go out as plain JSON. Written straight to ASGI ``send``: no task, no queue."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def notification(self, message: dict[str, Any]) -> None:
        if not self.started:
            self.started = True
            headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
            await self._send({"type": "http.response.start", "status": 200, "headers": headers})
        await self._send({"type": "http.response.body", "body": _sse(message), "more_body": True})

    async def finish(self, message: Mapping[str, Any]) -> Response:
        await self._send({"type": "http.response.body", "body": _sse(message), "more_body": False})
        return _AlreadySent()


class _AlreadySent(Response):
    """The answer went out as a stream already; nothing is left to send."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


def _granted(claims: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(claims.get("scope", "")).split())


class McpEndpoint:
    def __init__(
        self,
        *,
        directory: ToolDirectory,
        forwarder: ToolForwarder,
        sessions: SessionStore,
        resource_metadata_url: str,
        max_body_bytes: int,
    ) -> None:
        self._directory = directory
        self._forwarder = forwarder
        self._sessions = sessions
        self._metadata_url = resource_metadata_url
        self._max_body_bytes = max_body_bytes

    # -- HTTP ------------------------------------------------------------------------------
    async def handle(self, request: Request, send: Send) -> Response:
        try:
            if request.method == "POST":
                return await self._post(request, _stream_target(request, send))
            if request.method == "DELETE":
                return await self._delete(request)
            return Response(status_code=405, headers={"Allow": "POST, DELETE"})
        except JSONRPCError as exc:
            return render_jsonrpc_error(exc)

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            raw = await read_capped(request, self._max_body_bytes)
        except BodyTooLarge as exc:
            raise JSONRPCError(INVALID_REQUEST, str(exc), status=413) from None
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise JSONRPCError(PARSE_ERROR, "Parse error", status=400) from None
        if (
            not isinstance(body, dict)
            or body.get("jsonrpc") != "2.0"
            or not isinstance(body.get("method"), str)
        ):
            raise JSONRPCError(
                INVALID_REQUEST, "the body must be one JSON-RPC request or notification", status=400
            )
        if "id" in body and (isinstance(body["id"], bool) or not isinstance(body["id"], str | int)):
            raise JSONRPCError(INVALID_REQUEST, "the request id must be a string or a number", status=400)
        if "params" in body and not isinstance(body["params"], dict):
            raise JSONRPCError(
                INVALID_PARAMS, "params must be an object", request_id=body.get("id"), status=400
            )
        return body

    async def _post(self, request: Request, stream_to: Send | None) -> Response:
        body = await self._body(request)
        claims: dict[str, Any] = request.scope["state"]["claims"]
        version = request.headers.get("mcp-protocol-version")
        version = version.strip(OWS) if version is not None else None
        # Only the handshake revisions (or no header: 2025-03-26) take the handshake path; any
        # other value goes to the modern ladder, which answers an unknown one -32022 naming the
        # supported revisions (as the SDK's session manager routes).
        if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            return await self._modern(request, body, claims, version, stream_to)
        return await self._handshake(request, body, claims, stream_to)

    async def _delete(self, request: Request) -> Response:
        claims = request.scope["state"]["claims"]
        session_id = request.headers.get("mcp-session-id", "")
        if not session_id:
            raise JSONRPCError(INVALID_REQUEST, "Mcp-Session-Id header is required", status=400)
        if await self._sessions.find(session_id, principal_of(claims)) is None:
            raise JSONRPCError(INVALID_REQUEST, "session not found", status=404)
        await self._sessions.end(session_id)
        return Response(status_code=204)

    # -- 2026-07-28 --------------------------------------------------------------------------
    async def _modern(
        self,
        request: Request,
        body: dict[str, Any],
        claims: dict[str, Any],
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
        self, request: Request, body: dict[str, Any], claims: dict[str, Any], stream_to: Send | None
    ) -> Response:
        request_id = body.get("id")
        principal = principal_of(claims)
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
        self, body: dict[str, Any], claims: dict[str, Any], modern: bool, stream_to: Send | None
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
                tools, next_cursor = self._directory.visible(_granted(claims), cursor)
            except ValueError:
                raise JSONRPCError(
                    INVALID_PARAMS, "invalid cursor", request_id=request_id, status=400
                ) from None
            result: dict[str, Any] = {"tools": tools}
            if next_cursor is not None:
                result["nextCursor"] = next_cursor
            if modern:
                result.update(ttlMs=self._directory.ttl_ms, cacheScope="private")
            return result
        if method == "tools/call":
            return await self._call(params, claims, request_id, modern, stream_to)
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

    async def _call(
        self,
        params: dict[str, Any],
        claims: dict[str, Any],
        request_id: object,
        modern: bool,
        stream_to: Send | None,
    ) -> dict[str, Any] | Response:
        name = params.get("name")
        arguments = params.get("arguments", {})
        if not isinstance(name, str) or not isinstance(arguments, dict):
            raise JSONRPCError(
                INVALID_PARAMS, "tools/call needs a name and an arguments object", request_id=request_id
            )
        tool = self._directory.lookup(name)
        if tool is None:
            reason = self._directory.unavailable(name)
            if reason is not None:
                raise JSONRPCError(INTERNAL_ERROR, reason, request_id=request_id)
            raise JSONRPCError(INVALID_PARAMS, f"Unknown tool: {name[:128]}", request_id=request_id)
        if self._directory.missing_scopes(_granted(claims), tool.scopes):
            error = JSONRPCError(
                INSUFFICIENT_SCOPE,
                "insufficient scope for this tool",
                request_id=request_id,
                status=403,
                data={"requiredScopes": list(tool.scopes)},
            )
            error.headers["WWW-Authenticate"] = bearer_challenge(
                resource_metadata=self._metadata_url,
                scope=" ".join(tool.scopes),
                error="insufficient_scope",
                description=f"the tool {name} needs these scopes",
            )
            raise error
        reply = _SSEReply(stream_to) if stream_to is not None else None
        try:
            result = await self._forwarder.call(
                claims,
                tool.server,
                tool.upstream_name,
                tool.scopes,
                params,
                request_id,
                on_notification=reply.notification if reply is not None else None,
            )
        except JSONRPCError as exc:
            if reply is not None and reply.started:
                return await reply.finish(exc.body())
            raise
        if reply is not None and reply.started:
            if modern:
                result.setdefault("resultType", "complete")
            return await reply.finish({"jsonrpc": "2.0", "id": request_id, "result": result})
        return result
