"""The gateway in the test's own process and event loop: no socket, no server thread.

A test runs the gateway's app under :func:`gateway.upstream.asgi_transport.lifespan` (startup,
the catalogue refresher, shutdown); agents reach it through ``httpx2.ASGITransport``, and its
upstreams are ASGI apps behind an :class:`~gateway.upstream.asgi_transport.AsgiTransport`. Tests
then read the wired gateway directly (same loop, same thread as its store).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx2
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.composition import Gateway, build_gateway
from gateway.settings import Settings
from gateway.store.factory import open_store
from gateway.upstream.transport import UpstreamTransport

GATEWAY_URL = "https://gateway.test"
"""Where agents reach the in-process gateway (a name only: nothing listens)."""


@dataclass
class InProcessGateway:
    settings: Settings
    gateway: Gateway
    app: Starlette

    @property
    def issuer(self) -> str:
        return self.settings.server.issuer_id

    def endpoint(self, path: str) -> str:
        return self.settings.server.endpoint(path)

    def transport(self) -> httpx2.ASGITransport:
        """An httpx2 transport to this gateway (for agents, and for upstreams fetching its JWKS)."""
        return httpx2.ASGITransport(self.app)

    def client(self, timeout: float = 30) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=self.transport(), timeout=timeout)


def in_process_gateway(settings: Settings, transport: UpstreamTransport) -> InProcessGateway:
    """The gateway and its app, not started yet (its store opened here, in the test's thread)."""
    gateway = build_gateway(settings, open_store(settings.server.store), transport=transport)
    return InProcessGateway(settings, gateway, create_app(gateway))
