"""The application's exception handlers: every error escaping a route but ``/mcp`` and the admin
API becomes an answer of the error family, a fault of the gateway's own a bare 500. Those two are
dispatched ahead of the router and answer within :func:`answer_within_boundary`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import (
    GatewayError,
    OAuthError,
    ServerError,
    TemporarilyUnavailable,
    render_error,
    render_oauth_error,
)
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


async def answer_within_boundary(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    error_of: Callable[[Exception], GatewayError],
    *,
    problem: bool = False,
) -> None:
    """Run a stack dispatched ahead of Starlette's router (``/mcp``, the admin API) and answer what
    it raises with ``error_of(exc)`` through the one renderer, unless its answer had already begun
    (then there is nothing left to say over that response)."""
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, receive, tracking_send)
    except Exception as exc:
        error = error_of(exc)
        if not started:
            await render_error(error, problem=problem)(scope, receive, send)
