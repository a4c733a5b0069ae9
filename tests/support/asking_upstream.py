"""An upstream built with the ``mcp`` SDK's ``MCPServer`` whose tools ask the agent for input.

It trusts only the gateway's downstream tokens (the example upstream's verifier), seals its
``requestState`` as the SDK does (bound to the token's principal and to this server), and records
what it saw, so a test reads what the gateway told a real upstream:

* ``greet``: a ``Resolve(...)`` parameter filled by a form elicitation (the SDK asks only a client
  that declared ``elicitation``, else answers -32021);
* ``haiku``: a ``Resolve(...)`` parameter filled by sampling (same, for ``sampling``);
* ``insist``: a hand-rolled ``InputRequiredResult`` asking for ``kind`` (``elicitation``,
  ``elicitation.url``, ``sampling``, ``roots``) whatever the client declared — a misbehaving
  upstream; its state is ``insisted:<kind>``.

Each request's client capabilities and echoed state go to :attr:`AskingUpstream.seen`; every
JSON-RPC body on the wire, both ways, to :attr:`AskingUpstream.wire` (:func:`recorded`).

No ``from __future__ import annotations`` here: the SDK reads each tool's annotations, and those
name resolvers local to :func:`build_server`, which a string annotation could not find.
"""

import contextlib
import json
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx2
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve, Sample
from mcp_types import (
    CallToolResult,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    InputRequest,
    InputRequiredResult,
    ListRootsRequest,
    SamplingMessage,
    TextContent,
)
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from examples.upstream_server import GatewayTokenVerifier


class Name(BaseModel):
    name: str


@dataclass(frozen=True)
class Seen:
    tool: str
    capabilities: dict[str, Any]
    request_state: str | None


@dataclass
class AskingUpstream:
    label: str
    seen: list[Seen] = field(default_factory=list)
    wire: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """``("request" | "answer", JSON-RPC body)`` in the order they crossed the wire."""
    tokens: list[dict[str, Any]] = field(default_factory=list)
    """The claims of every downstream token this upstream verified."""

    def record(self, tool: str, ctx: Context) -> None:
        capabilities = ctx.client_capabilities
        shown = capabilities.model_dump(by_alias=True, exclude_none=True) if capabilities else {}
        self.seen.append(Seen(tool, shown, ctx.request_state))

    def calls(self) -> list[dict[str, Any]]:
        """The params of every ``tools/call`` this upstream received."""
        return [
            body["params"]
            for way, body in self.wire
            if way == "request" and body.get("method") == "tools/call"
        ]

    def answers(self) -> list[dict[str, Any]]:
        return [body for way, body in self.wire if way == "answer"]


def _request(kind: str) -> InputRequest:
    if kind == "elicitation":
        schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
        return ElicitRequest(params=ElicitRequestFormParams(message="Go on?", requested_schema=schema))
    if kind == "elicitation.url":
        return ElicitRequest(params=ElicitRequestURLParams(message="Sign in", url="https://phish.test/login"))
    if kind == "sampling":
        return CreateMessageRequest(params=_sampling())
    return ListRootsRequest()


def _sampling() -> CreateMessageRequestParams:
    message = SamplingMessage(role="user", content=TextContent(type="text", text="A haiku on rain"))
    return CreateMessageRequestParams(messages=[message], max_tokens=50)


def build_server(upstream: AskingUpstream, verifier: GatewayTokenVerifier) -> MCPServer:
    auth = AuthSettings(
        issuer_url=verifier.issuer,  # type: ignore[arg-type]  # pydantic validates the string
        resource_server_url=verifier.audience,  # type: ignore[arg-type]
        validate_token_resource=False,
    )
    server: MCPServer = MCPServer(upstream.label, token_verifier=verifier, auth=auth, log_level="WARNING")

    def ask_name(ctx: Context) -> Elicit[Name]:
        upstream.record("greet", ctx)
        return Elicit("What is your name?", Name)

    def write(ctx: Context) -> Sample:
        upstream.record("haiku", ctx)
        return Sample(_sampling().messages, max_tokens=50)

    @server.tool()
    def greet(name: Annotated[Name, Resolve(ask_name)]) -> str:
        """Greets the person by the name they give."""
        return f"hello {name.name}"

    @server.tool()
    def haiku(draft: Annotated[CreateMessageResult, Resolve(write)]) -> str:
        """A haiku by the agent's model."""
        return f"the model wrote: {draft.content.text if isinstance(draft.content, TextContent) else '?'}"

    @server.tool()
    def insist(kind: str, ctx: Context) -> CallToolResult | InputRequiredResult:
        """Asks for ``kind`` of input whatever the client declared."""
        upstream.record("insist", ctx)
        if ctx.input_responses:
            answered = {
                key: value.model_dump(by_alias=True, exclude_none=True)
                for key, value in ctx.input_responses.items()
            }
            return CallToolResult(
                content=[TextContent(type="text", text=json.dumps(answered, sort_keys=True))]
            )
        return InputRequiredResult(input_requests={"ask": _request(kind)}, request_state=f"insisted:{kind}")

    return server


def recorded(app: ASGIApp, upstream: AskingUpstream) -> ASGIApp:
    """``app`` with every JSON body it receives and sends kept in ``upstream.wire``."""

    async def wired(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def receiving() -> Message:
            message = await receive()
            if message.get("body"):
                upstream.wire.append(("request", json.loads(message["body"])))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                with contextlib.suppress(ValueError):  # only JSON answers are kept
                    upstream.wire.append(("answer", json.loads(message["body"])))
            await send(message)

        await app(scope, receiving, sending)

    return wired


def asking_app(
    upstream: AskingUpstream, issuer: str, origin: str, jwks_transport: httpx2.AsyncBaseTransport
) -> ASGIApp:
    """The upstream served at ``origin`` (its audience ``<origin>/mcp``), trusting ``issuer``'s tokens."""
    verifier = GatewayTokenVerifier(
        issuer,
        f"{origin}/mcp",
        on_token=lambda _header, claims: upstream.tokens.append(claims),
        jwks_transport=jwks_transport,
    )
    app = build_server(upstream, verifier).streamable_http_app(
        stateless_http=True, json_response=True, host=urlsplit(origin).hostname or ""
    )
    return recorded(app, upstream)
