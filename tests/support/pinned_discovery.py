"""Discovery with pinning, wired by hand around a memory store: the parts the gateway composes
(:class:`~gateway.upstream.discovery.Discovery`, :class:`~gateway.upstream.pin_keeper.PinKeeper`,
:class:`~gateway.upstream.pin_desk.PinDesk`), for tests that drive one discovery at a time and
look at the pins, the catalogue and the webhooks announced, without a gateway or a network.

Its REST side: :class:`ServedDocument` stands for the API serving its OpenAPI document (which a
test rewrites between discoveries, or makes fail), :class:`KeptDocument` for the text kept at
registration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.approvals.decisions import Principal
from gateway.audit import AuditLog
from gateway.clock import FrozenClock
from gateway.fetching.fetcher import FetchError
from gateway.oauth.tokens.audiences import Targets
from gateway.store.memory import MemoryStore
from gateway.upstream.discovery import Discovery
from gateway.upstream.openapi_source import OpenApiToolSource
from gateway.upstream.pin_desk import PinDesk
from gateway.upstream.pin_keeper import PinKeeper
from gateway.upstream.pin_records import PinBook
from gateway.upstream.tool_sources import Listing, ToolSource
from tools_registry.catalog import Catalog
from tools_registry.servers import UpstreamServer

SECURITY_ADMIN = Principal("sec-ops", ("security-admin",))


@dataclass
class ServedDocument:
    """The document at its URL now: ``document`` as JSON, or a failed fetch while ``failing``."""

    document: dict[str, Any]
    failing: bool = False
    fetched: list[str] = field(default_factory=list)

    async def fetch_bytes(self, url: str) -> bytes:
        self.fetched.append(url)
        if self.failing:
            raise FetchError("HTTP 503")
        return json.dumps(self.document).encode()

    async def aclose(self) -> None:
        pass


@dataclass
class KeptDocument:
    """The text a REST server was registered with (None: a config-file URL, nothing kept)."""

    text: str | None = None

    async def document(self, server: UpstreamServer) -> str | None:
        return self.text


class Listed:
    """An MCP server's ``tools/list``: the same tools every time (a test may change ``tools``)."""

    def __init__(self, *tools: dict[str, Any]) -> None:
        self.tools = list(tools)

    async def list_tools(self, server: UpstreamServer) -> Listing:
        return Listing(server, self.tools)

    def forget(self, server_id: str) -> None:
        pass


@dataclass
class Announced:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def announce(self, event: str, data: Mapping[str, Any]) -> None:
        self.events.append((event, dict(data)))

    def of(self, event: str) -> list[dict[str, Any]]:
        return [data for name, data in self.events if name == event]


class PinnedDiscovery:
    """One catalogue discovered through ``sources``, pinned in a memory store."""

    def __init__(self, sources: Mapping[Any, ToolSource], store: MemoryStore | None = None) -> None:
        """``store``: another replica's, to share its pins."""
        self.clock = FrozenClock(1_700_000_000.0)
        self.store = store or MemoryStore()
        self.book = PinBook(self.store)
        self.catalog = Catalog()
        self.announced = Announced()
        audit = AuditLog(clock=self.clock)
        keeper = PinKeeper(self.book, clock=self.clock, audit=audit, announcer=self.announced)
        targets = Targets("https://gateway.example/mcp")
        self.discovery = Discovery(sources, self.catalog, targets, clock=self.clock, audit=audit, pins=keeper)
        self.desk = PinDesk(
            self.book, self.catalog, self.store, clock=self.clock, audit=audit, announcer=self.announced
        )

    @classmethod
    def of_rest(cls, served: ServedDocument, kept: KeptDocument | None = None) -> PinnedDiscovery:
        source = OpenApiToolSource(served, kept or KeptDocument())
        return cls({"openapi": source})

    async def discover(self, server: UpstreamServer) -> dict[str, Any]:
        return await self.discovery.refresh(server)

    def served(self) -> list[str]:
        """The exposed names the catalogue serves now."""
        return [tool.name for tool in self.catalog.tools()]

    async def approve_pending(self, server_id: str, tool: str) -> None:
        [pending] = [p for p in await self.book.pending(server_id) if p.tool == tool]
        await self.desk.approve(server_id, tool, pending.hash, SECURITY_ADMIN)
