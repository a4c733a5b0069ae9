"""OA-7: the scopes a REST API's document requires of an operation are pinned with the tool's
definition. A re-fetched document that weakens them (``notes:write`` to ``notes:read``, or no
security requirement at all) would change what a token needs to call the tool without anyone's
review, so it is held like any changed definition; the operator's ``tool_scopes`` are not pinned.

Discovery is driven one pass at a time (:mod:`tests.support.pinned_discovery`); the document is
rewritten between passes, as the API serving it would.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.support.notes_api import openapi_document
from tests.support.pinned_discovery import PinnedDiscovery, ServedDocument
from tools_registry.catalog import Catalog
from tools_registry.pins import DOCUMENT_SCOPES
from tools_registry.servers import UpstreamServer

pytestmark = pytest.mark.anyio

NOTES = UpstreamServer(
    "notes", "https://notes.example/v1", kind="openapi", openapi="https://notes.example/openapi.json"
)
ALL_TOOLS = ["notes__createNote", "notes__deleteNote", "notes__getNote", "notes__listNotes"]


def operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"][path][method]
    return found


@pytest.fixture
async def notes() -> tuple[PinnedDiscovery, ServedDocument]:
    served = ServedDocument(openapi_document())
    world = PinnedDiscovery.of_rest(served)
    assert (await world.discover(NOTES))["healthy"]
    assert world.served() == ALL_TOOLS
    return world, served


def scopes_of(world: PinnedDiscovery, name: str) -> tuple[str, ...]:
    found = world.catalog.lookup(name)
    assert found is not None, f"{name} is not served"
    return found.scopes


@pytest.mark.parametrize(
    "weaken",
    [
        pytest.param(lambda op: op.update(security=[{"oauth": ["notes:read"]}]), id="write-to-read"),
        pytest.param(lambda op: op.pop("security"), id="requirement-removed"),
        pytest.param(lambda op: op.update(security=[]), id="no-scope-needed"),
    ],
)
async def test_oa7_a_document_that_weakens_an_operations_scopes_holds_the_tool_until_approved(
    notes: tuple[PinnedDiscovery, ServedDocument], weaken: Any
) -> None:
    world, served = notes
    pinned = (await world.book.pins("notes"))["deleteNote"]
    assert pinned.definition[DOCUMENT_SCOPES] == ["notes:write"]
    assert scopes_of(world, "notes__deleteNote") == ("notes:write",)
    weaken(operation(served.document, "/notes/{id}", "delete"))
    await world.discover(NOTES)
    assert world.served() == ["notes__createNote", "notes__getNote", "notes__listNotes"]
    reason = world.catalog.unavailable_reason("notes__deleteNote")
    assert reason is not None and "awaits approval" in reason, "a call to it is refused"
    [changed] = world.announced.of("tool.changed")
    assert changed["tool"] == "deleteNote" and changed["previous_hash"] == pinned.hash
    [review] = await world.desk.review("notes")
    assert '-    "notes:write"' in review[1], "the reviewer sees the scopes change"
    await world.approve_pending("notes", "deleteNote")
    assert world.served() == ALL_TOOLS
    await world.discover(NOTES)
    assert world.served() == ALL_TOOLS and world.announced.of("tool.changed") == [changed]


async def test_oa7_the_operators_tool_scopes_are_not_pinned(
    notes: tuple[PinnedDiscovery, ServedDocument],
) -> None:
    world, _ = notes
    hashes = {name: pin.hash for name, pin in (await world.book.pins("notes")).items()}
    overridden = dataclasses.replace(NOTES, tool_scopes={"deleteNote": ("notes:admin",)})
    await world.discover(overridden)
    assert world.served() == ALL_TOOLS, "the operator's decision holds nothing"
    assert scopes_of(world, "notes__deleteNote") == ("notes:admin",)
    assert world.announced.of("tool.pending") == []
    await world.discover(dataclasses.replace(NOTES, default_scopes=("notes",)))
    assert world.served() == ALL_TOOLS
    assert scopes_of(world, "notes__deleteNote") == ("notes:write",)
    assert {name: pin.hash for name, pin in (await world.book.pins("notes")).items()} == hashes


async def test_oa7_agents_never_see_the_pinned_scopes(notes: tuple[PinnedDiscovery, ServedDocument]) -> None:
    world, _ = notes
    for tool in world.catalog.tools():
        assert DOCUMENT_SCOPES not in tool.descriptor
        assert DOCUMENT_SCOPES in tool.definition


async def test_oa7_an_mcp_servers_entry_never_speaks_for_its_scopes() -> None:
    """Only a REST API's document says what its tools require: an MCP server's entry naming the
    member changes nothing in its definition."""
    weather = UpstreamServer("weather", "https://weather.example/mcp")
    plain = {"name": "get_forecast", "inputSchema": {"type": "object"}}
    [one] = Catalog().read(weather, [plain]).values()
    [two] = Catalog().read(weather, [{**plain, DOCUMENT_SCOPES: ["weather"]}]).values()
    assert one.definition_hash == two.definition_hash and DOCUMENT_SCOPES not in two.definition
