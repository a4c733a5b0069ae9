"""Where a REST API's document comes from at each discovery (:mod:`gateway.upstream.openapi_source`):
fetched again from its URL, and when that fails, the text kept at registration; a config-file URL
has none kept, so its server is unhealthy like an MCP server that does not answer.
"""

from __future__ import annotations

import json

import pytest

from tests.support.notes_api import openapi_document
from tests.support.pinned_discovery import KeptDocument, PinnedDiscovery, ServedDocument
from tools_registry.servers import UpstreamServer

pytestmark = pytest.mark.anyio

URL = "https://notes.example/openapi.json"
NOTES = UpstreamServer("notes", "https://notes.example/v1", kind="openapi", openapi=URL)
ALL_TOOLS = ["notes__createNote", "notes__deleteNote", "notes__getNote", "notes__listNotes"]


def only_reading() -> dict[str, object]:
    """The notes document as it was registered: its two reading operations only."""
    document = openapi_document()
    for path, method in (("/notes", "post"), ("/notes/{id}", "delete")):
        del document["paths"][path][method]
    return document


async def test_a_document_url_is_fetched_again_at_each_discovery() -> None:
    served = ServedDocument(only_reading())
    world = PinnedDiscovery.of_rest(served, KeptDocument(json.dumps(only_reading())))
    await world.discover(NOTES)
    served.document = openapi_document()
    await world.discover(NOTES)
    assert served.fetched == [URL, URL]
    assert world.served() == ["notes__getNote", "notes__listNotes"], "the new operations wait (first-use)"
    assert {p.tool for p in await world.book.pending("notes")} == {"createNote", "deleteNote"}


async def test_when_the_fetch_fails_the_text_kept_at_registration_is_imported() -> None:
    served = ServedDocument(openapi_document(), failing=True)
    world = PinnedDiscovery.of_rest(served, KeptDocument(json.dumps(only_reading())))
    result = await world.discover(NOTES)
    assert result["healthy"], result
    assert served.fetched == [URL]
    assert world.served() == ["notes__getNote", "notes__listNotes"]


async def test_a_config_url_without_kept_text_is_unhealthy_when_the_fetch_fails() -> None:
    served = ServedDocument(openapi_document())
    world = PinnedDiscovery.of_rest(served)
    await world.discover(NOTES)
    assert world.served() == ALL_TOOLS
    served.failing = True
    result = await world.discover(NOTES)
    assert not result["healthy"]
    assert result["reason"] == "upstream notes: its OpenAPI document: HTTP 503"
    assert world.served() == [], "its tools are hidden"
    reason = world.catalog.unavailable_reason("notes__getNote")
    assert reason is not None and "HTTP 503" in reason
    served.failing = False
    assert (await world.discover(NOTES))["healthy"]
    assert world.served() == ALL_TOOLS
