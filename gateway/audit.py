"""The audit trail: one structured JSON line per security decision, never a token or secret."""

from __future__ import annotations

import json
import logging
from typing import Any


class AuditLog:
    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger("mcp_gateway.audit")

    def record(self, event: str, *, outcome: str, **fields: Any) -> None:
        if self._logger.isEnabledFor(logging.INFO):
            line = {"event": event, "outcome": outcome, **fields}
            self._logger.info(json.dumps(line, separators=(",", ":"), default=str))
