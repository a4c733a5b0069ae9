"""The gateway under uvicorn with the example weather server behind it, served in process at the
address its registration names (the upstream hop is not the point where this is used)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from examples.upstream_server import build_app
from gateway.builders import open_configured_state
from gateway.clock import Clock
from gateway.composition import Gateway, build_gateway
from gateway.settings import Settings
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from tests.support.gateway_server import RunningGateway, running_gateway
from tools_registry.urls import origin


@contextlib.contextmanager
def gateway_before_weather(
    make_settings: Callable[[int], Settings], upstream_url: str, clock: Clock | None = None
) -> Iterator[RunningGateway]:
    """The gateway (and its store) on ``clock``, the weather server answering at ``upstream_url``;
    both lifespans run while the block does."""
    upstreams: list[ASGIApp] = []

    def build(settings: Settings) -> Gateway:
        upstream = build_app(settings.server.issuer_id, upstream_url)
        upstreams.append(upstream)
        transport = AsgiTransport({origin(upstream_url): upstream})
        return build_gateway(
            settings,
            open_configured_state(settings, clock),
            clock=clock,
            transport=transport,
        )

    def with_upstream(gateway_app: Starlette, gateway: Gateway) -> ASGIApp:
        @contextlib.asynccontextmanager
        async def both(app: Starlette) -> AsyncIterator[None]:
            async with lifespan(upstreams[0]), gateway_app.router.lifespan_context(gateway_app):
                yield

        return Starlette(routes=[Mount("/", app=gateway_app)], lifespan=both)

    with running_gateway(make_settings, build=build, wrap=with_upstream) as running:
        yield running
