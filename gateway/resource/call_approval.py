"""Per-call approval at the MCP endpoint (AP-6): the gate a ``tools/call`` passes after its scope
check, and the page where an agent reads the state of a call of its own.

A call needs approval when its server's registration names the tool in ``call_approval`` (or
``*``), or when the upstream annotates the tool ``destructiveHint`` and policy says
``destructive_calls = "approval"``. Such a call is forwarded only when an approval for exactly this
call (:mod:`gateway.approvals.held_calls`: same tool, arguments, client, subject and actors) is
waiting, and then once. Otherwise the gateway holds it and the agent is told so:

* in the 2026-07-28 era, to an agent that declared URL elicitation for this request, an
  ``InputRequiredResult`` whose one input request is a URL elicitation of the approval page: the
  agent's client shows the person the page, and retries the call when they are done; the retry
  passes once the call is approved (the gateway's own input response is not forwarded);
* otherwise, and to a retry that still finds the call pending, the JSON-RPC error
  :data:`CALL_PENDING` whose ``data.callApproval`` names the held call (``id``, ``status``,
  ``statusUrl``, ``approveUrl``, ``expiresAt``);
* a denied call is refused with :data:`CALL_DENIED` and the approver's reason.

Both errors are answered with HTTP 200, as every JSON-RPC error the MCP tables do not map.
An approved call whose upstream asks the agent for input (UP-5) stays approved for the retry that
echoes the state the upstream sent, once per round.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from mcp_types import CLIENT_CAPABILITIES_META_KEY
from mcp_types.jsonrpc import INVALID_PARAMS
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.approvals.call_desk import CallDesk
from gateway.approvals.held_calls import CallFacts, HeldBecause, HeldCall, canonical_arguments
from gateway.claims import Claims
from gateway.clock import Clock
from gateway.errors import NO_STORE, JSONRPCError, NotFound
from gateway.resource.call_audit import CALL_PENDING
from gateway.resource.tool_calls import Forward
from gateway.upstream.input_requests import declared_kinds
from tools_registry.tool_entries import CatalogTool

CALL_DENIED = -32011
"""An approver denied the call; the message carries the reason."""
APPROVAL_INPUT = "mcp-gateway/callApproval"
"""The key of the gateway's own input request (and of the agent's answer to it)."""


class ApprovalGate:
    """The :class:`~gateway.resource.tool_calls.CallGate` of AP-6."""

    def __init__(self, desk: CallDesk, status_url: str, clock: Clock) -> None:
        self._desk = desk
        self._status_url = status_url.rstrip("/")
        self._clock = clock

    def held_because(self, tool: CatalogTool) -> HeldBecause | None:
        """Why each call of ``tool`` needs approval; None when it does not."""
        if tool.server.call_needs_approval(tool.upstream_name):
            return "registration"
        if tool.destructive and self._desk.policy.destructive_calls == "approval":
            return "destructive"
        return None

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
        because = self.held_because(tool)
        if because is None:
            return await forward(params)
        facts = _facts(claims, tool, params, request_id)
        state = params.get("requestState")
        passed = await self._desk.pass_round(facts, state) if isinstance(state, str) else None
        passed = passed or await self._desk.pass_approved(facts)
        if passed is None:
            return self._held(await self._desk.hold(facts, because), params, request_id, modern)
        result = await forward(_without_approval_input(params))
        if result.get("resultType") == "input_required" and isinstance(result.get("requestState"), str):
            await self._desk.asked_for_input(passed, result["requestState"])
        return result

    def _held(
        self, call: HeldCall, params: Mapping[str, Any], request_id: object, modern: bool
    ) -> dict[str, Any]:
        """The answer to a call that may not pass: raised as an error, or an InputRequiredResult."""
        view = agent_view(call, self._clock.now(), self._status_url, self._desk.page_of(call.call_id))
        if view["status"] == "denied":
            raise JSONRPCError(
                CALL_DENIED,
                f"the call to {call.tool} was denied: {call.reason}",
                request_id=request_id,
                data={"callApproval": view},
            )
        declared = params.get("_meta", {}).get(CLIENT_CAPABILITIES_META_KEY) if modern else None
        if "elicitation.url" in declared_kinds(declared)[0] and not _answered(params):
            page = {"mode": "url", "url": view["approveUrl"], "message": _ask(call, view)}
            request = {"method": "elicitation/create", "params": page}
            return {"resultType": "input_required", "inputRequests": {APPROVAL_INPUT: request}}
        raise JSONRPCError(
            CALL_PENDING,
            f"the call to {call.tool} waits for approval ({call.call_id}); make it again once approved",
            request_id=request_id,
            data={"callApproval": view},
        )


class CallStatus:
    """``GET /call-approvals/{id}``: an agent reads a held call of its own (any other is 404)."""

    def __init__(self, desk: CallDesk, status_url: str, clock: Clock) -> None:
        self._desk = desk
        self._status_url = status_url.rstrip("/")
        self._clock = clock

    async def read(self, request: Request) -> Response:
        claims: Claims = request.scope["state"]["claims"]
        call = await self._desk.book.get(request.path_params["call_id"])
        if call is None or (call.client_id, call.subject) != (claims.client_id, claims.subject):
            raise NotFound("no such held call")
        view = agent_view(call, self._clock.now(), self._status_url, self._desk.page_of(call.call_id))
        return JSONResponse(view, headers=NO_STORE)


def agent_view(call: HeldCall, now: float, status_url: str, page: str) -> dict[str, Any]:
    """What the agent is told of a held call (never who decided)."""
    view: dict[str, Any] = {
        "id": call.call_id,
        "tool": call.tool,
        "status": call.current_status(now),
        "statusUrl": f"{status_url}/{call.call_id}",
        "approveUrl": page,
        "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(call.expires_at)),
    }
    if view["status"] == "denied":
        view["reason"] = call.reason
    return view


def _facts(claims: Claims, tool: CatalogTool, params: Mapping[str, Any], request_id: object) -> CallFacts:
    try:
        arguments = canonical_arguments(params.get("arguments", {}))
    except ValueError as exc:
        raise JSONRPCError(INVALID_PARAMS, str(exc), request_id=request_id) from None
    return CallFacts(
        tool=tool.name,
        server_id=tool.server_id,
        upstream_name=tool.upstream_name,
        arguments=arguments,
        client_id=claims.client_id,
        subject=claims.subject,
        actor_chain=claims.actor_chain,
    )


def _ask(call: HeldCall, view: Mapping[str, Any]) -> str:
    who = f"{call.person}" if call.approver == "person" else "a security administrator"
    return (
        f"The call to {call.tool} needs the approval of {who} before it is made. "
        f"Open the page to review it; it waits until {view['expiresAt']}."
    )


def _answered(params: Mapping[str, Any]) -> bool:
    """Whether this is the agent's retry after it was shown the approval page."""
    responses = params.get("inputResponses")
    return isinstance(responses, Mapping) and APPROVAL_INPUT in responses


def _without_approval_input(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """The params as forwarded: the agent's answer to the gateway's own question is not the
    upstream's business."""
    if not _answered(params):
        return params
    forwarded = dict(params)
    responses = {k: v for k, v in params["inputResponses"].items() if k != APPROVAL_INPUT}
    if responses:
        forwarded["inputResponses"] = responses
    else:
        del forwarded["inputResponses"]
    return forwarded
