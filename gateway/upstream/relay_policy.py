"""What of an upstream's own initiative may reach the agent during a call (rule book UP-3).

An upstream may send notifications before it answers. The gateway relays only what the agent asked
for in this very request, and drops everything else:

* ``notifications/progress`` only for the ``progressToken`` the agent sent (an upstream cannot
  report progress on a token the agent never used, or on another agent's);
* ``notifications/message`` (log messages) only when the agent opted in for this request with
  ``_meta["io.modelcontextprotocol/logLevel"]`` (2026-07-28), and only at that level or above;
* nothing else: made-up methods, ``notifications/tools/list_changed`` (the gateway consumes it
  itself) and any request the upstream might try to slip in.

Requests for input (an ``InputRequiredResult`` asking the agent for sampling or an elicitation)
are not notifications: :mod:`gateway.upstream.input_requests` decides those (UP-5).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp_types import LOG_LEVEL_META_KEY

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
"""RFC 5424 severities, as MCP names them, least severe first."""

Relay = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class RelayPolicy:
    progress_token: object | None
    log_level: str | None

    @classmethod
    def of_request(cls, meta: object) -> RelayPolicy:
        """What the agent asked for in its request's ``_meta``."""
        if not isinstance(meta, Mapping):
            return cls(None, None)
        level = meta.get(LOG_LEVEL_META_KEY)
        return cls(meta.get("progressToken"), level if level in LOG_LEVELS else None)

    def forwarded_meta(self) -> dict[str, Any]:
        """The ``_meta`` the upstream receives: the agent's progress token and log level, no more."""
        meta: dict[str, Any] = {}
        if self.progress_token is not None:
            meta["progressToken"] = self.progress_token
        if self.log_level is not None:
            meta[LOG_LEVEL_META_KEY] = self.log_level
        return meta

    def allows(self, notification: Mapping[str, Any]) -> bool:
        params = notification.get("params")
        params = params if isinstance(params, Mapping) else {}
        method = notification.get("method")
        if method == "notifications/progress":
            token = params.get("progressToken")
            return (
                self.progress_token is not None
                and type(token) is type(self.progress_token)
                and (token == self.progress_token)
            )
        if method == "notifications/message":
            level = params.get("level")
            return (
                self.log_level is not None
                and level in LOG_LEVELS
                and LOG_LEVELS.index(level) >= LOG_LEVELS.index(self.log_level)
            )
        return False

    def filter(self, relay: Relay | None) -> Relay | None:
        """``relay`` behind this policy (None when nothing may be relayed at all)."""
        if relay is None or (self.progress_token is None and self.log_level is None):
            return None

        async def relay_allowed(notification: dict[str, Any]) -> None:
            if self.allows(notification):
                await relay(notification)

        return relay_allowed
