"""What ``mcp-gateway tools test`` prints: the requests that went upstream (already redacted by the
recording transport), then the tool's result or the JSON-RPC error the agent would have read.

Text is for the tool author; ``--json`` is one object for scripts::

    {"tool": …, "request": {…} | null, "preceding": [{…}], "result": {…}}   (or "error": {…})

``request`` is the last request sent (the call itself); ``preceding`` what went before it for the
same call (an MCP session's ``initialize``). A refusal before anything went upstream is one line on
stderr, as every command's refusal is.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.cli.output import when
from gateway.resource.call_audit import CALL_PENDING
from gateway.resource.tool_calls import INSUFFICIENT_SCOPE, TOOL_AWAITS_APPROVAL
from gateway.upstream.recording_transport import SentRequest


@dataclass(frozen=True)
class CallReport:
    tool: str
    sent: Sequence[SentRequest]
    result: Mapping[str, Any] | None
    error: Mapping[str, Any] | None

    @property
    def exit_code(self) -> int:
        """0 for a result that is not a tool error; 1 for a tool error or any JSON-RPC error."""
        return 0 if self.result is not None and self.result.get("isError") is not True else 1

    def as_dict(self) -> dict[str, Any]:
        sent = [request.as_dict() for request in self.sent]
        outcome = {"result": self.result} if self.result is not None else {"error": self.error}
        return {"tool": self.tool, "request": sent[-1] if sent else None, "preceding": sent[:-1], **outcome}


def call_report(tool: str, sent: Sequence[SentRequest], status: int, answer: Any) -> CallReport:
    """The report of one call, from the HTTP status and the JSON the gateway answered."""
    if isinstance(answer, dict) and isinstance(answer.get("result"), dict):
        return CallReport(tool, sent, answer["result"], None)
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        return CallReport(tool, sent, None, answer["error"])
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):  # an OAuth refusal (bearer)
        described = answer.get("error_description") or answer["error"]
        return CallReport(tool, sent, None, {"code": None, "message": f"HTTP {status}: {described}"})
    return CallReport(tool, sent, None, {"code": None, "message": f"HTTP {status} without a JSON answer"})


def error_line(tool: str, error: Mapping[str, Any]) -> str:
    """One line saying why the call ended in ``error``, worded for the tool author."""
    code, message = error.get("code"), str(error.get("message", ""))
    data = error.get("data")
    data = data if isinstance(data, dict) else {}
    if code == INSUFFICIENT_SCOPE:
        needs = " ".join(data.get("requiredScopes", ())) or "?"
        filed = data.get("accessRequest")
        also = f"; access request {filed['id']} filed, as for an agent" if isinstance(filed, dict) else ""
        return f"{tool}: refused, insufficient scope: the tool needs {needs} (JSON-RPC {code}){also}"
    if code == TOOL_AWAITS_APPROVAL:
        return f"{tool}: held: {message} (JSON-RPC {code}; see mcp-gateway tools review)"
    if code == CALL_PENDING:
        return f"{tool}: the call is held for approval: {message} (JSON-RPC {code}; see calls list)"
    return f"{tool}: {message}" + (f" (JSON-RPC {code})" if code is not None else "")


def print_report(report: CallReport) -> None:
    blocks = [request_block(number, request) for number, request in enumerate(report.sent, 1)]
    if not report.sent:
        blocks.append("no request went upstream")
    if report.result is not None:
        is_error = report.result.get("isError") is True
        shown = json.dumps(report.result, indent=2, sort_keys=True)
        blocks.append(f"result (isError: {'true' if is_error else 'false'}):\n{shown}")
    if report.sent or report.result is not None:
        print("\n\n".join(blocks))
    if report.error is not None:
        print(f"mcp-gateway: {error_line(report.tool, report.error)}", file=sys.stderr)


def request_block(number: int, request: SentRequest) -> str:
    """One request as it went out: the line, each header (a bearer token as its claims), the body."""
    status = f" -> {request.status} {request.content_type}".rstrip() if request.status is not None else ""
    lines = [f"request {number} to upstream {request.upstream}: {request.method} {request.url}{status}"]
    for name, value in request.headers.items():
        lines.append(f"  {name}: {value}")
        if name.lower() == "authorization" and request.token_claims is not None:
            lines += [f"      {claim}: {_claim(claim, v)}" for claim, v in request.token_claims.items()]
    lines.append(f"  body ({request.body_bytes} bytes): {request.body_preview or '-'}")
    return "\n".join(lines)


def _claim(name: str, value: Any) -> str:
    if name == "exp" and isinstance(value, int | float):
        return f"{value} ({when(value)})"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
