"""``mcp-gateway serve`` with the per-call audit events switched off, for one measurement only.

    MCP_GATEWAY_CONFIG=gateway.toml .venv/bin/python bench/serve_without_audit.py

``bench/proxy_overhead.py`` runs this beside the real gateway to print what the buffered events
(``AuditLog.record``: a ``tools/call`` and a ``tools/list`` event per request) cost on the hot path.
The gateway has no such switch, and must not: a security team gets every decision. The events that
are committed before the answer (``durable``: tokens, approvals) are left alone; the bench takes its
one token before it measures.
"""

from __future__ import annotations

from typing import Any

from gateway.audit.log import AuditLog
from gateway.cli.main import main


def _record_nothing(self: AuditLog, event: str, *, outcome: str, **fields: Any) -> None:
    return None


if __name__ == "__main__":
    AuditLog.record = _record_nothing  # type: ignore[method-assign]
    raise SystemExit(main(["serve"]))
