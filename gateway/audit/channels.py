"""How a request came in, told to the audit log: an ASGI middleware that enters the channel its
path belongs to (the admin API, the console, else an agent's) for the length of the request."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.audit.log import AuditLog


class AuditChannel:
    """``channels``: (path prefix, channel) pairs, the first match wins; other paths are ``agent``."""

    def __init__(self, app: ASGIApp, audit: AuditLog, channels: Sequence[tuple[str, str]]) -> None:
        self._app = app
        self._audit = audit
        self._channels = tuple(channels)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path: str = scope["path"]
        via = next(
            (
                channel
                for prefix, channel in self._channels
                if path == prefix or path.startswith(prefix + "/")
            ),
            "agent",
        )
        with self._audit.entered_via(via):
            await self._app(scope, receive, send)
