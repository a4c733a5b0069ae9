"""Code run inside the running gateway, on its own event loop: tokens signed with its own keys.

Some rules need tokens no client can obtain over HTTP (expired, another issuer, a foreign ``typ``
on the gateway's key). The gateway's store connection lives in the server's thread, so such
tokens are signed by coroutines run on the server's own loop, which :class:`GatewayLoop`
remembers: it wraps the gateway's app (``running_gateway(..., wrap=loop.wrap)``) and notes the
loop of the first request it passes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import jwt
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.composition import Gateway
from gateway.oauth.tokens.access_tokens import AccessTokenIssuer

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

    def mint(
        self,
        *,
        client_id: str,
        scope: str,
        sub: str | None = None,
        lifetime: int = 300,
        audience: str | None = None,
        issuer: str | None = None,
        **extra: Any,
    ) -> str:
        """A token signed by the gateway's current key, as its grants sign: for its MCP endpoint,
        by its own issuer, about ``client_id``, unless ``audience``, ``issuer`` or ``sub`` say else."""
        gateway = self.gateway
        signer = (
            gateway.issuer if issuer is None else AccessTokenIssuer(gateway.keyring, issuer, gateway.clock)
        )
        return self.run(
            lambda: signer.issue(
                subject=sub or client_id,
                client_id=client_id,
                audience=audience or gateway.settings.mcp.resource,
                scopes=tuple(scope.split()),
                lifetime=lifetime,
                extra=extra,
            )
        ).token

    def sign(self, claims: dict[str, Any], typ: str | None) -> str:
        """``claims`` signed with the gateway's current key, the header's ``typ`` as given (or none)."""

        async def sign() -> str:
            keys = await self.gateway.keyring.current()
            headers = {"kid": keys.signing_kid, **({"typ": typ} if typ is not None else {})}
            return jwt.encode(claims, keys.signing_key, algorithm="ES256", headers=headers)

        return self.run(sign)
