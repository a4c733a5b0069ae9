"""A call to a REST API's tool: the operation's HTTP request, with a token made for that API.

The request is :func:`tools_registry.openapi.build_request` of the tool as last imported (OA-1,
OA-2), sent through the gateway's upstream transport (the server's ``timeout``, the transport's
size cap, redirects never followed), with ``Authorization: Bearer`` a downstream token for the
API's audience and the operation's scopes, delegated by the agent (:func:`~gateway.upstream.
forwarding.exchanged_token`; OA-5): never the agent's own token. The answer is the tool result of
:func:`tools_registry.openapi.tool_result` (a non-2xx status is a tool error, OA-4); arguments the
operation cannot take are a tool error too (OA-6), so the agent can correct its call; an API that
cannot be reached is the call's JSON-RPC error naming the upstream, as for an MCP server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from mcp_types.jsonrpc import INTERNAL_ERROR

from gateway.claims import Claims
from gateway.errors import JSONRPCError
from gateway.upstream.downstream_tokens import DownstreamTokens
from gateway.upstream.forwarding import Notify, exchanged_token
from gateway.upstream.transport import UpstreamFailure, UpstreamTransport
from tools_registry.openapi import RestTool, ToolArgumentsError, build_request, tool_result
from tools_registry.tool_entries import CatalogTool


class RestTools(Protocol):
    """How each REST tool is called, as last imported (:class:`~gateway.upstream.openapi_source.
    OpenApiToolSource`)."""

    def tool(self, server_id: str, name: str) -> RestTool | None: ...


def argument_error(message: str) -> dict[str, Any]:
    """OA-6: the tool result telling the agent its arguments cannot make the request."""
    return {"content": [{"type": "text", "text": f"invalid arguments: {message}"}], "isError": True}


class RestForwarder:
    def __init__(
        self, downstream_tokens: DownstreamTokens, tools: RestTools, transport: UpstreamTransport
    ) -> None:
        self._downstream_tokens = downstream_tokens
        self._tools = tools
        self._transport = transport

    async def call(
        self,
        claims: Claims,
        tool: CatalogTool,
        params: Mapping[str, Any],
        request_id: object,
        on_notification: Notify | None = None,
        client_capabilities: object = None,
    ) -> dict[str, Any]:
        """The operation's answer as a ``CallToolResult``. A REST API asks the agent nothing, so
        ``on_notification`` and ``client_capabilities`` are not used."""
        server = tool.server
        rest_tool = self._tools.tool(server.id, tool.upstream_name)
        if rest_tool is None:  # the catalogue serves it, but this replica has not imported it
            raise JSONRPCError(
                INTERNAL_ERROR,
                f"upstream {server.id} has no operation {tool.upstream_name!r:.140} at present",
                request_id=request_id,
                data={"upstream": server.id},
            )
        arguments = params.get("arguments", {})
        try:
            request = build_request(rest_tool, arguments if isinstance(arguments, dict) else {}, server.url)
        except ToolArgumentsError as exc:
            return argument_error(str(exc))
        token = await exchanged_token(self._downstream_tokens, claims, tool, request_id)
        headers = {**request.headers, "Accept": "application/json", "Authorization": f"Bearer {token}"}
        try:
            reply = await self._transport.send(
                server.id, request.method, request.url, request.body, headers, server.timeout
            )
        except UpstreamFailure as exc:
            raise JSONRPCError(
                INTERNAL_ERROR, str(exc), request_id=request_id, data={"upstream": server.id}
            ) from None
        return tool_result(reply.status, reply.content_type or None, reply.body)


__all__ = ["RestForwarder", "RestTools", "argument_error"]
