"""The gateway in the test's own process and event loop: no socket, no server thread.

A test runs the gateway's app under :func:`gateway.upstream.asgi_transport.lifespan` (startup,
the catalogue refresher, shutdown); agents reach it through a
:class:`~tests.support.streaming_asgi.StreamingASGITransport` (answers arrive as the gateway sends
them, as over a socket), and its upstreams are ASGI apps behind an
:class:`~gateway.upstream.asgi_transport.AsgiTransport` (or, where the socket of the upstream hop
is the point, real servers behind the production transport). Tests then read the wired gateway
directly (same loop, same thread as its store), and sign tokens with its keys by awaiting
:mod:`~tests.support.gateway_tokens`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.types import ASGIApp

from examples.upstream_server import TokenObserver, build_app
from gateway.app import create_app
from gateway.composition import Gateway, build_gateway
from gateway.settings import Settings
from gateway.store.factory import open_store
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from gateway.upstream.transport import UpstreamTransport
from tests.support.gateway_address import GatewayAddress
from tests.support.http_clients import http_client
from tests.support.streaming_asgi import StreamingASGITransport

GATEWAY_URL = "https://gateway.test"
"""Where agents reach the in-process gateway (a name only: nothing listens)."""


@dataclass
class InProcessGateway(GatewayAddress):
    gateway: Gateway
    app: Starlette

    def transport(self) -> httpx2.ASGITransport:
        """A buffered transport to this gateway, for code that opens a client per request (an
        upstream fetching the JWKS): it needs no ``async with``, so any number may share it."""
        return httpx2.ASGITransport(self.app)

    def streaming_transport(self) -> StreamingASGITransport:
        """The transport an agent's client reaches this gateway through (the client used as
        ``async with``): a streamed answer arrives event by event, as over a socket."""
        return StreamingASGITransport(self.app)

    def client(self) -> httpx2.AsyncClient:
        """An agent's client to this gateway, as the suite makes them (:mod:`~tests.support.http_clients`)."""
        return http_client(transport=self.streaming_transport())


def http_reaches(holder: str) -> Any:
    """Conftest's ``http_transport``, overridden for a module whose gateway runs in process:
    ``http_transport = http_reaches("catalogue")`` makes ``http`` reach ``catalogue.gateway``, the
    :class:`InProcessGateway` held by the module's fixture of that name (one line per module,
    where a fixture of its own would repeat the same three in each)."""

    @pytest.fixture
    def http_transport(request: pytest.FixtureRequest) -> httpx2.AsyncBaseTransport:
        gateway: InProcessGateway = request.getfixturevalue(holder).gateway
        return gateway.streaming_transport()

    return http_transport


def in_process_gateway(settings: Settings, transport: UpstreamTransport | None) -> InProcessGateway:
    """The gateway and its app, not started yet (its store opened here, in the test's thread).

    ``transport`` carries its upstream calls; ``None`` is the production transport (real sockets).
    """
    gateway = build_gateway(settings, open_store(settings.server.store), transport=transport)
    return InProcessGateway(settings, gateway, create_app(gateway))


def example_upstream(
    gateway: InProcessGateway, origin: str, on_token: TokenObserver | None = None
) -> ASGIApp:
    """The example weather upstream (``examples/upstream_server.py``) served at ``origin`` in
    process: it trusts ``gateway``'s tokens and fetches its JWKS without a socket. Mount it on the
    gateway's ``AsgiTransport`` and run its :func:`~gateway.upstream.asgi_transport.lifespan`."""
    return build_app(
        gateway.issuer,
        f"{origin}/mcp",
        on_token,
        host=urlsplit(origin).hostname or "",
        jwks_transport=gateway.transport(),
    )


@contextlib.asynccontextmanager
async def gateway_in_front_of_weather(
    settings: Settings, transport: AsgiTransport, origin: str, on_token: TokenObserver | None = None
) -> AsyncIterator[InProcessGateway]:
    """The gateway running, with the example weather upstream at ``origin`` mounted on its
    ``transport`` beside the apps already there; both lifespans run around the block."""
    gateway = in_process_gateway(settings, transport)
    weather = example_upstream(gateway, origin, on_token)
    transport.mount(origin, weather)
    async with lifespan(weather), lifespan(gateway.app):
        yield gateway
