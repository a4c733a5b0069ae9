"""One tool call, carried upstream with a token made for that upstream and that tool.

The agent's token never leaves the gateway (PR-5): the upstream gets a downstream token from
token exchange (``aud`` = the upstream's audience, ``scope`` = the tool's scopes, ``act.sub`` =
the agent, ``exp`` ≤ the agent token's). Every upstream failure becomes one JSON-RPC error
within the upstream's timeout, naming the upstream and never carrying a token. What the upstream
may ask of the agent during the call, and what of it is relayed, is :mod:`input_requests` (UP-5).

Forwarding is a seam (:class:`CallForwarder`), one per kind of upstream: :class:`McpForwarder`
(an MCP ``tools/call``) and :class:`~gateway.upstream.rest_forwarding.RestForwarder` (a REST API's
operation); :class:`ToolForwarder` hands each call to the one of its server's kind. Both get the
downstream token the same way (:func:`exchanged_token`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND

from gateway.claims import Claims
from gateway.errors import JSONRPCError, OAuthError
from gateway.upstream.downstream_tokens import DownstreamTokens
from gateway.upstream.input_requests import InputGrant, relayed, retry_refusal
from gateway.upstream.mcp_client import UpstreamClient
from gateway.upstream.relay_policy import RelayPolicy
from gateway.upstream.transport import UpstreamFailure
from tools_registry.servers import Kind
from tools_registry.tool_entries import CatalogTool

Notify = Callable[[dict[str, Any]], Awaitable[None]]

_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
RELAYED_CODES = frozenset({INVALID_PARAMS, METHOD_NOT_FOUND})
"""Upstream error codes an agent can act on and that mean the same from anyone: kept as they are.
Every other code becomes the gateway's ``INTERNAL_ERROR`` naming the upstream, so an upstream can
never answer with what looks like the gateway's own decision (a step-up ``-32003`` with
``requiredScopes``, a header-ladder ``-32020``)."""
MAX_UPSTREAM_MESSAGE = 256


def upstream_error(server_id: str, error: Mapping[str, Any], request_id: object) -> JSONRPCError:
    """An upstream's JSON-RPC error as the gateway relays it: the message (bounded, printable) and
    the upstream's code in ``data``, never its ``data`` (nothing an upstream says reaches the agent
    without a rule allowing it)."""
    code = error.get("code")
    upstream_code = code if isinstance(code, int) and not isinstance(code, bool) else None
    message = error.get("message")
    text = (
        "".join(c for c in message if c.isprintable())[:MAX_UPSTREAM_MESSAGE]
        if isinstance(message, str)
        else ""
    )
    return JSONRPCError(
        upstream_code if upstream_code in RELAYED_CODES else INTERNAL_ERROR,
        f"upstream {server_id} answered with an error: {text or 'no message'}",
        request_id=request_id,
        data={"upstream": server_id, "upstreamCode": upstream_code},
    )


class CallForwarder(Protocol):
    async def call(
        self,
        claims: Claims,
        tool: CatalogTool,
        params: Mapping[str, Any],
        request_id: object,
        on_notification: Notify | None = None,
        client_capabilities: object = None,
    ) -> dict[str, Any]:
        """The tool's ``CallToolResult``; a failure to get one is raised as a :class:`JSONRPCError`
        naming the upstream, never carrying a token."""
        ...


class ToolForwarder:
    """Each call to the forwarder of its server's kind."""

    def __init__(self, by_kind: Mapping[Kind, CallForwarder]) -> None:
        self._by_kind = dict(by_kind)

    async def call(
        self,
        claims: Claims,
        tool: CatalogTool,
        params: Mapping[str, Any],
        request_id: object,
        on_notification: Notify | None = None,
        client_capabilities: object = None,
    ) -> dict[str, Any]:
        forwarder = self._by_kind[tool.server.kind]
        return await forwarder.call(claims, tool, params, request_id, on_notification, client_capabilities)


async def exchanged_token(
    downstream_tokens: DownstreamTokens, claims: Claims, tool: CatalogTool, request_id: object
) -> str:
    """PR-5: the downstream token for ``tool``'s server audience and ``tool``'s scopes, delegated by
    the agent; an exchange the policy refuses is the call's error, and nothing is sent upstream."""
    server = tool.server
    try:
        return await downstream_tokens.token_for(claims, server.audience, tool.scopes)
    except OAuthError as exc:
        raise JSONRPCError(
            INTERNAL_ERROR,
            f"no token for upstream {server.id}: {exc.error} ({exc.description})",
            request_id=request_id,
            data={"upstream": server.id},
        ) from None


class McpForwarder:
    """A call to an MCP server's tool: its ``tools/call``."""

    def __init__(self, downstream_tokens: DownstreamTokens, client: UpstreamClient) -> None:
        self._downstream_tokens = downstream_tokens
        self._client = client

    async def call(
        self,
        claims: Claims,
        tool: CatalogTool,
        params: Mapping[str, Any],
        request_id: object,
        on_notification: Notify | None = None,
        client_capabilities: object = None,
    ) -> dict[str, Any]:
        """The upstream's JSON-RPC ``result`` (or its JSON-RPC ``error``, re-raised as ours).

        ``client_capabilities``: what the agent declared for this request (2026-07-28); None when
        its era cannot be relayed input requests (the 2025 handshake).
        """
        server = tool.server
        if (refused := retry_refusal(params)) is not None:
            raise JSONRPCError(INVALID_PARAMS, refused, request_id=request_id)
        grant = InputGrant.of(client_capabilities, server.input_requests)
        token = await exchanged_token(self._downstream_tokens, claims, tool, request_id)
        policy = RelayPolicy.of_request(params.get("_meta"))
        forwarded = {key: value for key, value in params.items() if key != "_meta"}
        forwarded["name"] = tool.upstream_name
        if meta := policy.forwarded_meta():
            forwarded["_meta"] = meta
        try:
            answer = await self._client.request(
                server,
                token,
                claims.principal,
                "tools/call",
                forwarded,
                name=tool.upstream_name,
                on_notification=policy.filter(on_notification),
                client_capabilities=grant.client_capabilities(),
            )
        except UpstreamFailure as exc:
            self._client.forget(server.id)
            raise JSONRPCError(
                INTERNAL_ERROR, str(exc), request_id=request_id, data={"upstream": server.id}
            ) from None
        if "error" in answer:
            raise upstream_error(server.id, answer["error"], request_id)
        result: dict[str, Any] = answer["result"]
        if result.get("resultType", "complete") != "complete":
            return self._input_required(server.id, grant, result, request_id)
        result_meta = result.get("_meta")
        if isinstance(result_meta, dict) and _SERVER_INFO in result_meta:  # the agent talks to the gateway
            result["_meta"] = {key: value for key, value in result_meta.items() if key != _SERVER_INFO}
        return result

    @staticmethod
    def _input_required(
        server_id: str, grant: InputGrant, result: dict[str, Any], request_id: object
    ) -> dict[str, Any]:
        """An upstream's incomplete result: relayed when it asks only for what this call grants;
        otherwise the upstream misbehaved (it was told what it may ask), and the agent is told so."""
        refused = (
            grant.refusal(result)
            if result.get("resultType") == "input_required"
            else "answered with a kind of result the gateway does not relay"
        )
        if refused is None:
            return relayed(result)
        raise JSONRPCError(
            INTERNAL_ERROR,
            f"upstream {server_id} {refused}",
            request_id=request_id,
            data={"upstream": server_id},
        )
