"""The admin API's error boundary: its prefix goes to its own stack, and whatever that stack
raises is answered as RFC 9457 problem details by :func:`gateway.errors.render_error` (AD-2).

Like ``/mcp`` (:class:`~gateway.resource.routes.McpRoute`), the admin API is dispatched ahead of
Starlette's router, so its answers never pass through the OAuth JSON handlers of the rest of the
application: an unknown path or method, a store that does not answer and a fault of the gateway's
own are all problem details, and none carries a stack trace.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.error_handlers import answer_within_boundary
from gateway.errors import (
    GatewayError,
    MethodNotAllowed,
    NotFound,
    ServerError,
    TemporarilyUnavailable,
)
from gateway.store import StoreUnavailable

logger = logging.getLogger("mcp_gateway")


class AdminRoute:
    """Sends every path under ``prefix`` to ``admin_app``; anything else goes on to ``app``."""

    def __init__(self, app: ASGIApp, *, prefix: str, admin_app: ASGIApp) -> None:
        self._app = app
        self._prefix = prefix
        self._admin_app = admin_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == self._prefix or path.startswith(self._prefix + "/")):
            await self._app(scope, receive, send)
            return
        await answer_within_boundary(
            self._admin_app, scope, receive, send, lambda exc: as_gateway_error(exc, path), problem=True
        )


def as_gateway_error(exc: Exception, path: str) -> GatewayError:
    """The error of the family that answers ``exc``: itself, or what it means to the caller."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, StoreUnavailable):  # fail closed: no check that needs the store passes
        logger.warning("store unavailable: %s", exc)
        return TemporarilyUnavailable("the state store is unavailable; retry shortly")
    if isinstance(exc, HTTPException) and exc.status_code == 404:  # Starlette's router
        return NotFound("nothing is served at this path")
    if isinstance(exc, HTTPException) and exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "GET").split(", ")
        return MethodNotAllowed(", ".join(sorted(allowed)))  # Starlette's order is a set's
    logger.error("unexpected error on %s: %s", path, type(exc).__name__)
    return ServerError("the gateway failed to answer; the fault is in its log")
