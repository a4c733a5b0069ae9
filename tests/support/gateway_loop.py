"""Code run inside the running gateway, on its own event loop: tokens signed with its own keys.

Some rules need tokens no client can obtain over HTTP (expired, another issuer on the gateway's
key). The gateway's store connection lives in the server's thread, so such tokens are signed by
coroutines run on the server's own loop, which :class:`LoopCapture` remembers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.composition import Gateway
from tests.support.gateway_server import RunningGateway

T = TypeVar("T")


class LoopCapture:
    """Passes everything to the gateway's app; remembers the server's event loop."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.loop = self.loop or asyncio.get_running_loop()
        await self.app(scope, receive, send)


def run_in_gateway(capture: LoopCapture, make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on the server's own loop (its store connection lives there)."""
    assert capture.loop is not None, "the gateway has served no request yet"

    async def call() -> T:
        return await make()

    return asyncio.run_coroutine_threadsafe(call(), capture.loop).result(10)


def mint(
    running: RunningGateway,
    capture: LoopCapture,
    *,
    client_id: str,
    scope: str,
    lifetime: int = 300,
    **extra: Any,
) -> str:
    """An access token for the gateway's MCP endpoint, signed by the gateway as its grants sign."""
    gateway: Gateway | None = running.gateway
    assert gateway is not None
    return run_in_gateway(
        capture,
        lambda: gateway.issuer.issue(
            subject=client_id,
            client_id=client_id,
            audience=running.settings.mcp_resource,
            scopes=tuple(scope.split()),
            lifetime=lifetime,
            extra=extra,
        ),
    ).token
