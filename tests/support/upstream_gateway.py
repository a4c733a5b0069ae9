"""A gateway in front of one upstream, for the tests of what the gateway does with an upstream's answers.

The upstream is a raw ASGI app (a :class:`~tests.support.fake_upstream.FakeUpstream` or a test's
own) run without lifespan; the gateway runs in the test's process on a SQLite file, knows the
upstream under ``server["id"]`` and lets each agent hold that id as its scope. How the gateway
reaches its upstream is decided here, once, for every such test: in process, behind an
``AsgiTransport``, unless the test needs the upstream hop on a real socket (``over_a_socket``:
the upstream then runs under uvicorn and the gateway calls it with its production transport).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from starlette.types import ASGIApp

from gateway.config import settings_from
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from gateway.upstream.transport import UpstreamTransport
from tests.support.agents import AgentKey, agent_token
from tests.support.asgi_server import Served
from tests.support.inprocess import GATEWAY_URL, InProcessGateway, in_process_gateway


@dataclass
class UpstreamGateway:
    """The running gateway, its MCP endpoint, and the keys of the agents it knows."""

    gateway: InProcessGateway
    keys: dict[str, AgentKey]

    @property
    def mcp(self) -> str:
        return self.gateway.endpoint("/mcp")

    def client(self) -> httpx2.AsyncClient:
        """An agent's client to the gateway (use it as ``async with``)."""
        return self.gateway.client()

    async def token(self, http: httpx2.AsyncClient, agent: str = "agent") -> str:
        """A token for ``agent`` from the gateway's own ``/token``."""
        return await agent_token(http, self.gateway, self.keys[agent], agent)


@contextlib.asynccontextmanager
async def gateway_in_front_of(
    upstream: ASGIApp,
    store: Path,
    server: Mapping[str, Any],
    agents: Iterable[str] = ("agent",),
    *,
    over_a_socket: bool = False,
    **options: Any,
) -> AsyncIterator[UpstreamGateway]:
    """``upstream`` known as the ``[[servers]]`` entry ``server`` (its ``url`` added here);
    ``options`` are further settings, by their flat names."""
    keys = {agent: AgentKey() for agent in agents}
    with contextlib.ExitStack() as stack:
        url, transport = _reach(upstream, f"https://{server['id']}.test", over_a_socket, stack)
        settings = settings_from(
            public_url=GATEWAY_URL,
            store=f"sqlite:///{store}",
            servers=({**server, "url": url},),
            clients=tuple(
                {"client_id": agent, "scopes": (server["id"],), "jwks": key.jwks}
                for agent, key in keys.items()
            ),
            **options,
        )
        gateway = in_process_gateway(settings, transport)
        async with lifespan(gateway.app):
            yield UpstreamGateway(gateway, keys)


def _reach(
    upstream: ASGIApp, origin: str, over_a_socket: bool, stack: contextlib.ExitStack
) -> tuple[str, UpstreamTransport | None]:
    """The upstream's MCP URL, and the transport that reaches it (``None``: the production one)."""
    if over_a_socket:
        served = stack.enter_context(Served(lifespan="off").start(upstream))
        return f"{served.url}/mcp", None
    return f"{origin}/mcp", AsgiTransport({origin: upstream})
