"""One ``tools/call`` at the MCP endpoint, in both eras: the tool looked up, the scope check (with
step-up), the per-call gate, then the call forwarded, its answer buffered or streamed.

    lookup -> scopes (403 insufficient_scope; step-up may file a request) -> upstream available
    -> CallGate (AP-6: a call that needs approval is held, or passes once) -> ToolForwarder

Every call ends in exactly one audit event (AU-4, :mod:`call_audit`): its ``tool_call``, or the
``call_pending`` of the call desk when the gate held it.

The gate is a seam (:class:`CallGate`): it is handed the call and a way to forward it, and answers
either with what forwarding answered or with its own answer (a held call's pending answer), never
both. Without a gate every call that passes the scope check is forwarded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from mcp_types import CLIENT_CAPABILITIES_META_KEY
from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS
from starlette.responses import Response
from starlette.types import Send

from gateway.challenges import bearer_challenge
from gateway.claims import Claims
from gateway.errors import JSONRPCError
from gateway.resource.call_audit import CallAudit, CallRecord
from gateway.resource.mcp_stream import SSEReply
from gateway.resource.step_up import StepUpRequests
from gateway.resource.tool_directory import CatalogDirectory
from gateway.upstream.forwarding import ToolForwarder
from tools_registry.tool_entries import CatalogTool

INSUFFICIENT_SCOPE = -32003
TOOL_AWAITS_APPROVAL = -32012
"""The tool's definition is new or changed and waits for a security admin's approval (TP-4)."""

Forward = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]
"""Forwards the call with these params; the upstream's result."""


class CallGate(Protocol):
    """Decides, per call, whether it is forwarded now (AP-6)."""

    async def through(
        self,
        claims: Claims,
        tool: CatalogTool,
        params: Mapping[str, Any],
        *,
        request_id: object,
        modern: bool,
        forward: Forward,
    ) -> dict[str, Any]:
        """``forward``'s result when the call may pass, else the gate's own result; a refusal is
        raised as a :class:`JSONRPCError`."""
        ...


class ToolCalls:
    def __init__(
        self,
        *,
        directory: CatalogDirectory,
        forwarder: ToolForwarder,
        resource_metadata_url: str,
        step_up: StepUpRequests,
        gate: CallGate,
        audit: CallAudit,
    ) -> None:
        self._audit = audit
        self._directory = directory
        self._forwarder = forwarder
        self._metadata_url = resource_metadata_url
        self._step_up = step_up
        self._gate = gate

    async def call(
        self,
        params: dict[str, Any],
        claims: Claims,
        request_id: object,
        modern: bool,
        stream_to: Send | None,
    ) -> dict[str, Any] | Response:
        record = self._audit.call(claims, params.get("name"), params.get("arguments", {}))
        reply = SSEReply(stream_to) if stream_to is not None else None
        try:
            result = await self._decide(params, claims, request_id, modern, reply, record)
        except JSONRPCError as exc:
            record.failed(exc)
            if reply is not None and reply.started:
                return await reply.finish(exc.body())
            raise
        except Exception as exc:
            record.failed(exc)
            raise
        record.held()  # answered without forwarding: the gate held the call (call_pending)
        if reply is not None and reply.started:
            if modern:
                result.setdefault("resultType", "complete")
            return await reply.finish({"jsonrpc": "2.0", "id": request_id, "result": result})
        return result

    async def _decide(
        self,
        params: dict[str, Any],
        claims: Claims,
        request_id: object,
        modern: bool,
        reply: SSEReply | None,
        record: CallRecord,
    ) -> dict[str, Any]:
        name = params.get("name")
        arguments = params.get("arguments", {})
        if not isinstance(name, str) or not isinstance(arguments, dict):
            raise JSONRPCError(
                INVALID_PARAMS, "tools/call needs a name and an arguments object", request_id=request_id
            )
        tool, unavailable = self._directory.lookup(name), None
        if tool is None and (found := self._directory.unavailable(name)) is not None:
            tool, unavailable = found
        if tool is None:
            raise JSONRPCError(INVALID_PARAMS, f"Unknown tool: {name[:128]}", request_id=request_id)
        record.tool = tool
        missing = self._directory.missing_scopes(claims.scopes, tool.scopes)
        if missing:
            raise await self._insufficient_scope(claims, tool, missing, request_id)
        if unavailable is not None and self._directory.held(tool):  # TP-4: a gateway refusal
            data = {"toolApproval": "pending", "definitionHash": tool.definition_hash}
            raise JSONRPCError(TOOL_AWAITS_APPROVAL, unavailable, request_id=request_id, data=data)
        if unavailable is not None:  # told only to a caller that may use the tool
            raise JSONRPCError(
                INTERNAL_ERROR, unavailable, request_id=request_id, data={"upstream": tool.server_id}
            )
        # What the agent can be asked during the call: declared per request in 2026-07-28 (the
        # ladder checked ``_meta``); nothing in the handshake era, where none is relayed (UP-5).
        declared = params["_meta"].get(CLIENT_CAPABILITIES_META_KEY) if modern else None

        async def forward(passed: Mapping[str, Any]) -> dict[str, Any]:
            record.forwarding()
            try:
                result = await self._forwarder.call(
                    claims,
                    tool,
                    passed,
                    request_id,
                    on_notification=reply.notification if reply else None,
                    client_capabilities=declared,
                )
            except Exception as exc:
                record.failed(exc)
                raise
            record.answered(result)
            return result

        return await self._gate.through(
            claims, tool, params, request_id=request_id, modern=modern, forward=forward
        )

    async def _insufficient_scope(
        self, claims: Claims, tool: CatalogTool, missing: tuple[str, ...], request_id: object
    ) -> JSONRPCError:
        data: dict[str, Any] = {"requiredScopes": list(tool.scopes)}
        filed = await self._step_up.file(claims, missing, tool.name)
        if filed is not None:
            data["accessRequest"] = filed
        error = JSONRPCError(
            INSUFFICIENT_SCOPE,
            "insufficient scope for this tool",
            request_id=request_id,
            status=403,
            data=data,
        )
        error.headers["WWW-Authenticate"] = bearer_challenge(
            resource_metadata=self._metadata_url,
            scope=" ".join(tool.scopes),
            error="insufficient_scope",
            description=f"the tool {tool.name} needs these scopes",
        )
        return error
