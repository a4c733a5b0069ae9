"""The audit events of the MCP endpoint (AU-4): one ``tools_list`` per listing, one ``tool_call`` per
call the gateway decided.

A ``tool_call`` event says how the call ended:

* ``forwarded``: the upstream answered a result (``is_error: true`` when that result is a tool
  error, ``isError``);
* ``upstream_error``: the upstream answered a JSON-RPC error, failed, timed out, or is known to be
  down (``error``: the JSON-RPC code the agent was answered);
* ``refused``: the gateway refused the call before any upstream saw it: unknown tool, missing
  scope (step-up may file an access request besides: its own event), a denied held call, bad
  arguments, or it could not decide (its store down: ``-32603``) (``error``: the code).

An upstream's own JSON-RPC error code, when it sent one, is ``upstream_code`` (the agent is
answered the gateway's ``-32603`` for most codes: :mod:`gateway.upstream.forwarding`).

A call held for approval is recorded once, as ``call_pending`` by the call desk, and gets no
``tool_call``: the decision then is the hold, and it has its event. When an approved call passes
(``call_passed``), what the upstream then answered is its ``tool_call``.

The event names the tool as the agent called it (``tool``), its ``upstream``, the
:func:`definition_hash` of the tool as catalogued, the SHA-256 of the canonical JSON arguments
(``arguments_digest``), and the upstream round trip in ``latency_ms`` (a monotonic clock). Argument
values are recorded only for a tool its registration opts in (``audit_arguments``), with the names
of ``audit_redact`` redacted, under ``argument_values``.

A call made by ``mcp-gateway tools test`` is a call like any other, made with a token the command
minted carrying :data:`TOOL_TEST_CLAIM`: its event adds ``by`` (the operator, ``cli:<name>``, then
its actor) and ``test: true``, so a security team tells a tool author's tests from agents' calls
(AU-9).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from mcp_types.jsonrpc import INTERNAL_ERROR

from gateway.approvals.held_calls import canonical_json
from gateway.audit import AuditLog
from gateway.claims import Claims
from gateway.errors import JSONRPCError
from tools_registry.tool_entries import CatalogTool

TOOL_TEST_CLAIM = "tool_test_by"
"""The claim only ``mcp-gateway tools test`` puts in the tokens it mints: the operator making the
call. No grant, exchange or refresh ever sets it, and only the gateway signs tokens for ``/mcp``."""
CALL_PENDING = -32010
"""The call waits for approval (implementation-defined server error): its event is ``call_pending``."""


def definition_hash(tool: CatalogTool) -> str:
    """The hash of the upstream's definition of the tool (TP-1). The catalogue serves a tool only
    while that hash is the pinned one (TP-4), so a forwarded call names the pinned definition; a
    call refused because its definition awaits approval names the definition that waits."""
    return tool.definition_hash


def arguments_digest(arguments: object) -> str | None:
    """SHA-256 of the arguments' canonical JSON; None when they are not plain JSON."""
    try:
        return hashlib.sha256(canonical_json(arguments).encode()).hexdigest()
    except (TypeError, ValueError, RecursionError):
        return None


def _upstream_failed(exc: JSONRPCError) -> bool:
    """Whether an error answered for a call says its upstream failed (it names the upstream)."""
    return isinstance(exc.data, Mapping) and "upstream" in exc.data


class CallAudit:
    """Makes the events of the MCP endpoint. ``monotonic``: the clock of upstream round trips."""

    def __init__(self, audit: AuditLog, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._audit = audit
        self._monotonic = monotonic

    def listed(self, claims: Claims, shown: int, hidden: int) -> None:
        self._audit.record(
            "tools_list",
            outcome="listed",
            client_id=claims.client_id,
            subject=claims.subject,
            actor_chain=list(claims.actor_chain),
            shown=shown,
            hidden=hidden,
        )

    def call(self, claims: Claims, name: object, arguments: object) -> CallRecord:
        return CallRecord(self._audit, self._monotonic, claims, name, arguments)


class CallRecord:
    """The one ``tool_call`` event of one call, recorded at most once, when the call ends."""

    def __init__(
        self,
        audit: AuditLog,
        monotonic: Callable[[], float],
        claims: Claims,
        name: object,
        arguments: object,
    ) -> None:
        self._audit = audit
        self._monotonic = monotonic
        self._claims = claims
        self._name = name if isinstance(name, str) else None
        self._arguments = arguments
        self.tool: CatalogTool | None = None
        self._started: float | None = None
        self._done = False

    def forwarding(self) -> None:
        """The call goes upstream now: the round trip starts."""
        self._started = self._monotonic()

    def answered(self, result: Mapping[str, Any]) -> None:
        self._end("forwarded", is_error=result.get("isError") is True)

    def failed(self, exc: BaseException) -> None:
        """The call ended with ``exc`` (unless it was held, or already recorded)."""
        if self._done:
            return
        if not isinstance(exc, JSONRPCError):
            self._end("upstream_error" if self._started is not None else "refused", error=INTERNAL_ERROR)
        elif exc.code == CALL_PENDING and self._started is None:
            self._done = True  # held: the call desk recorded call_pending
        elif _upstream_failed(exc):
            code = exc.data.get("upstreamCode") if isinstance(exc.data, Mapping) else None
            self._end(
                "upstream_error", error=exc.code, **({"upstream_code": code} if code is not None else {})
            )
        else:
            self._end("refused", error=exc.code)

    def held(self) -> None:
        """The gate answered without forwarding (an approval page to show): ``call_pending`` is the
        event of that call."""
        self._done = True

    def _end(self, outcome: str, **facts: Any) -> None:
        if self._done:
            return
        self._done = True
        tool, claims = self.tool, self._claims
        fields: dict[str, Any] = {
            "client_id": claims.client_id,
            "subject": claims.subject,
            "actor_chain": list(claims.actor_chain),
            "tool": tool.name if tool is not None else (self._name or "")[:128],
            "upstream": tool.server_id if tool is not None else None,
            "definition_hash": definition_hash(tool) if tool is not None else None,
            "arguments_digest": arguments_digest(self._arguments),
            **facts,
        }
        if isinstance(by := claims.raw.get(TOOL_TEST_CLAIM), str):
            fields.update(by=by, test=True)
        if self._started is not None:
            fields["latency_ms"] = round((self._monotonic() - self._started) * 1000, 3)
        if tool is not None:
            values = tool.server.audited_arguments(tool.upstream_name, self._arguments)
            if values is not None:
                fields["argument_values"] = values
        self._audit.record("tool_call", outcome=outcome, **fields)
