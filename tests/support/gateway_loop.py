"""Code run inside the running gateway, on its own event loop: tokens signed with its own keys.

Some rules need tokens no client can obtain over HTTP (:mod:`~tests.support.gateway_tokens`).
The gateway's store connection lives in the server's thread, so such tokens are signed by
coroutines run on the server's own loop, which :class:`GatewayLoop` remembers: it wraps the
gateway's app (``running_gateway(..., wrap=loop.wrap)``) and notes the loop of the first request
it passes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.composition import Gateway
from tests.support import gateway_tokens

T = TypeVar("T")


class GatewayLoop:
    """Passes everything to the gateway's app; remembers the gateway and the server's event loop."""

    def __init__(self) -> None:
        self._app: ASGIApp | None = None
        self._gateway: Gateway | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def wrap(self, app: Starlette, gateway: Gateway) -> ASGIApp:
        """The ``wrap`` of :func:`~tests.support.gateway_server.running_gateway`."""
        self._app, self._gateway = app, gateway
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._app is not None
        self.loop = self.loop or asyncio.get_running_loop()
        await self._app(scope, receive, send)

    @property
    def gateway(self) -> Gateway:
        assert self._gateway is not None, "the gateway has not been built"
        return self._gateway

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine on the server's own loop (its store connection lives there)."""
        assert self.loop is not None, "the gateway has served no request yet"

        async def call() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    def mint(self, **options: Any) -> str:
        """:func:`~tests.support.gateway_tokens.mint` (same keyword options), on the server's loop."""
        return self.run(lambda: gateway_tokens.mint(self.gateway, **options))

    def sign(self, claims: dict[str, Any], typ: str | None) -> str:
        """:func:`~tests.support.gateway_tokens.sign`, on the server's loop."""
        return self.run(lambda: gateway_tokens.sign(self.gateway, claims, typ))
