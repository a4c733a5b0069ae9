"""The application's exception handlers: every error escaping a route but ``/mcp`` (which renders its
own) becomes an answer of the error family, a fault of the gateway's own a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import OAuthError, ServerError, TemporarilyUnavailable, render_oauth_error
from gateway.store import StoreUnavailable

logger = logging.getLogger("mcp_gateway")


async def _oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return render_oauth_error(exc)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    logger.warning("store unavailable: %s", exc)
    return render_oauth_error(TemporarilyUnavailable("the state store is unavailable; retry shortly"))


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unexpected error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return render_oauth_error(ServerError())


EXCEPTION_HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    OAuthError: _oauth_error,
    StoreUnavailable: _store_unavailable,
    Exception: _unexpected,
}
"""Starlette's ``exception_handlers`` for every route but ``/mcp`` (which renders its own)."""
