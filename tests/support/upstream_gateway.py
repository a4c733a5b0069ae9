"""A gateway in front of one upstream, for the tests of what the gateway does with an upstream's answers.

The upstream is a raw ASGI app (a :class:`~tests.support.fake_upstream.FakeUpstream` or a test's
own) served without lifespan; the gateway runs on a SQLite file, knows the upstream under
``server["id"]`` and lets each agent hold that id as its scope. How the gateway reaches its
upstream is decided here, once, for every such test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from starlette.types import ASGIApp

from gateway.config import settings_from
from gateway.settings import Settings
from tests.support.agents import AgentKey, agent_token
from tests.support.asgi_server import Served
from tests.support.gateway_server import RunningGateway, running_gateway


@dataclass
class UpstreamGateway:
    """The running gateway, its MCP endpoint, and the keys of the agents it knows."""

    gateway: RunningGateway
    keys: dict[str, AgentKey]

    @property
    def mcp(self) -> str:
        return self.gateway.endpoint("/mcp")

    async def token(self, http: httpx2.AsyncClient, agent: str = "agent") -> str:
        """A token for ``agent`` from the gateway's own ``/token``."""
        return await agent_token(http, self.gateway, self.keys[agent], agent)


@contextlib.contextmanager
def gateway_in_front_of(
    upstream: ASGIApp, store: Path, server: Mapping[str, Any], agents: Iterable[str] = ("agent",)
) -> Iterator[UpstreamGateway]:
    """``upstream`` served as the ``[[servers]]`` entry ``server`` (its ``url`` added here)."""
    keys = {agent: AgentKey() for agent in agents}
    with Served(lifespan="off").start(upstream) as served:

        def settings(port: int) -> Settings:
            return settings_from(
                port=port,
                store=f"sqlite:///{store}",
                servers=({**server, "url": f"{served.url}/mcp"},),
                clients=tuple(
                    {"client_id": agent, "scopes": (server["id"],), "jwks": key.jwks}
                    for agent, key in keys.items()
                ),
            )

        with running_gateway(settings) as gateway:
            yield UpstreamGateway(gateway, keys)
