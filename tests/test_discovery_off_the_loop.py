"""Discovery screens an answer in a worker thread (TS-9): one server at the 5,000-tool cap costs
about two seconds of screening, which must not stop the event loop answering everyone else.

Discovery is driven directly, with a source that lists a prepared answer and a catalogue whose
reader says which thread ran it; nothing here measures time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from gateway.audit import AuditLog
from gateway.clock import FrozenClock
from gateway.oauth.tokens.audiences import Targets
from gateway.upstream.discovery import MAX_TOOLS_PER_SERVER, Discovery
from gateway.upstream.tool_sources import Listing
from tools_registry.catalog import Catalog
from tools_registry.servers import UpstreamServer
from tools_registry.tool_entries import Read

pytestmark = pytest.mark.anyio

BIG = UpstreamServer("big", "https://big.example/mcp")


class PreparedSource:
    """Lists the same answer every time."""

    def __init__(self, tools: list[Any]) -> None:
        self.tools = tools

    async def list_tools(self, server: UpstreamServer) -> Listing:
        return Listing(server, self.tools)

    def forget(self, server_id: str) -> None:
        pass


class WatchedCatalog(Catalog):
    """A catalogue whose reader records the thread it ran in, and whose changes record theirs."""

    def __init__(self) -> None:
        super().__init__()
        self.read_in: list[int] = []
        self.replaced_in: list[int] = []
        self.ticks_while_reading: list[int] = []
        self.ticks = 0

    def reader(self, server: UpstreamServer) -> Callable[[list[Any]], Read]:
        read = super().reader(server)

        def watched(raw: list[Any]) -> Read:
            self.read_in.append(threading.get_ident())
            before = self.ticks
            found = read(raw)
            self.ticks_while_reading.append(self.ticks - before)
            return found

        return watched

    def replace(self, server: UpstreamServer, raw_tools: Any, *args: Any, **kwargs: Any) -> list[str]:
        self.replaced_in.append(threading.get_ident())
        return super().replace(server, raw_tools, *args, **kwargs)


def answer(count: int) -> list[dict[str, Any]]:
    return [
        {"name": f"tool_{n:04d}", "description": f"Tool number {n}.", "inputSchema": {"type": "object"}}
        for n in range(count)
    ]


async def test_ts9_an_answer_is_read_off_the_loop_and_taken_on_it() -> None:
    catalog = WatchedCatalog()
    discovery = Discovery(
        {"mcp": PreparedSource(answer(MAX_TOOLS_PER_SERVER))},
        catalog,
        Targets("https://gateway.example/mcp"),
        clock=FrozenClock(1000.0),
        audit=AuditLog(),
    )
    loop_thread = threading.get_ident()
    finished = anyio.Event()

    async def tick() -> None:
        """Another request being served while the answer is read."""
        while not finished.is_set():
            catalog.ticks += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        group.start_soon(tick)
        result = await discovery.refresh(BIG)
        finished.set()
    assert result["healthy"] and result["tools"] == MAX_TOOLS_PER_SERVER
    assert len(catalog.tools()) == MAX_TOOLS_PER_SERVER
    [reader_thread] = catalog.read_in
    assert reader_thread != loop_thread, "screening ran on the event loop"
    assert catalog.replaced_in == [loop_thread], "the catalogue changed off the loop"
    assert catalog.ticks_while_reading[0] > 0, "the loop stood still while the answer was read"


def test_ts9_reading_is_pure_the_catalogue_changes_only_when_it_takes_the_answer() -> None:
    catalog = Catalog()
    found = catalog.reader(BIG)(answer(3))
    assert sorted(found[0]) == ["tool_0000", "tool_0001", "tool_0002"]
    assert catalog.tools() == [] and catalog.health() == {}
    catalog.replace(BIG, answer(3), found=found)
    assert [tool.name for tool in catalog.tools()] == ["big__tool_0000", "big__tool_0001", "big__tool_0002"]
