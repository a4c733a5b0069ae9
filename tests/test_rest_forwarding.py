"""A call to a REST tool (:class:`~gateway.upstream.rest_forwarding.RestForwarder`), with a transport
that records what it is asked to send and answers as told: arguments the operation cannot take are
a tool error with nothing sent and no token minted (OA-6); a non-2xx answer is a tool error whose
body is bounded (OA-4); a call goes out with the exchanged token, never the agent's (OA-5).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from gateway.claims import Claims
from gateway.upstream.downstream_tokens import DownstreamTokens
from gateway.upstream.openapi_source import OpenApiToolSource
from gateway.upstream.rest_forwarding import RestForwarder
from gateway.upstream.transport import EventReceiver, UpstreamReply
from tests.support.notes_api import openapi_document
from tests.support.pinned_discovery import KeptDocument, ServedDocument
from tools_registry.catalog import Catalog
from tools_registry.servers import UpstreamServer
from tools_registry.tool_entries import CatalogTool

pytestmark = pytest.mark.anyio

NOTES = UpstreamServer(
    "notes", "https://notes.example/v1", kind="openapi", openapi="https://notes.example/openapi.json"
)
AGENT = Claims(
    "alice", "agent", ("notes",), ("https://gateway.example/mcp",), "j-1", 0.0, 1e10, None, None, {}
)


@dataclass
class Sent:
    method: str
    url: str
    body: bytes | None
    headers: dict[str, str]
    time_limit: float


@dataclass
class RecordingTransport:
    """Answers every request with ``reply``, and keeps what it was asked to send."""

    reply: UpstreamReply
    sent: list[Sent] = field(default_factory=list)

    async def post(
        self,
        name: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        time_limit: float,
        on_event: EventReceiver | None = None,
    ) -> UpstreamReply:
        raise AssertionError("a REST call is never an MCP post")

    async def send(
        self,
        name: str,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        time_limit: float,
    ) -> UpstreamReply:
        self.sent.append(Sent(method, url, body, dict(headers), time_limit))
        return self.reply

    async def aclose(self) -> None:
        pass


class MintedTokens(DownstreamTokens):
    """Mints ``downstream:<audience>:<scopes>`` and remembers each request."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    async def token_for(self, subject: Claims, audience: str, scopes: tuple[str, ...]) -> str:
        self.asked.append((audience, scopes))
        return f"downstream:{audience}:{' '.join(scopes)}"


@dataclass
class Rest:
    forwarder: RestForwarder
    transport: RecordingTransport
    tokens: MintedTokens
    tools: dict[str, CatalogTool]


async def rest(reply: UpstreamReply) -> Rest:
    source = OpenApiToolSource(ServedDocument(openapi_document()), KeptDocument())
    listing = await source.list_tools(NOTES)
    tools = Catalog().read(listing.server, listing.tools)
    transport, tokens = RecordingTransport(reply), MintedTokens()
    return Rest(RestForwarder(tokens, source, transport), transport, tokens, tools)


def json_reply(status: int, value: object) -> UpstreamReply:
    return UpstreamReply(status, "application/json", json.dumps(value).encode(), None)


async def test_oa5_a_call_is_the_operations_request_with_the_exchanged_token() -> None:
    parts = await rest(json_reply(200, {"id": "1", "text": "buy milk"}))
    result = await parts.forwarder.call(AGENT, parts.tools["getNote"], {"arguments": {"id": "1"}}, 1)
    assert result["structuredContent"] == {"id": "1", "text": "buy milk"} and not result["isError"]
    [sent] = parts.transport.sent
    assert (sent.method, sent.url, sent.body) == ("GET", "https://notes.example/v1/notes/1", None)
    assert sent.headers["Authorization"] == "Bearer downstream:https://notes.example/v1:notes:read"
    assert sent.time_limit == NOTES.timeout
    assert parts.tokens.asked == [("https://notes.example/v1", ("notes:read",))]


@pytest.mark.parametrize("arguments", [{"id": ".."}, {}, {"id": "1", "extra": True}])
async def test_oa6_arguments_the_operation_cannot_take_are_a_tool_error_and_nothing_is_sent(
    arguments: dict[str, object],
) -> None:
    parts = await rest(json_reply(200, {}))
    result = await parts.forwarder.call(AGENT, parts.tools["deleteNote"], {"arguments": arguments}, 1)
    assert result["isError"] is True
    assert result["content"][0]["text"].startswith("invalid arguments: ")
    assert parts.transport.sent == [] and parts.tokens.asked == [], "no request, no token"


async def test_oa4_a_500_is_a_tool_error_with_its_status_and_a_bounded_body() -> None:
    body = b"Internal error\x1b[31m " + b"x" * 100_000
    parts = await rest(UpstreamReply(500, "text/plain", body, None))
    result = await parts.forwarder.call(AGENT, parts.tools["deleteNote"], {"arguments": {"id": "1"}}, 1)
    assert result["isError"] is True
    [item] = result["content"]
    assert item["text"].startswith("HTTP 500: Internal error[31m x")
    assert len(item["text"]) < 2 * 1024 + 200 and f"[cut: {len(body)} bytes" in item["text"]
    assert "\x1b" not in item["text"]
    assert [sent.method for sent in parts.transport.sent] == ["DELETE"]
