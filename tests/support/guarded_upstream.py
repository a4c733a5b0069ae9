"""An upstream built with the ``mcp`` SDK's ``MCPServer`` whose tools change things, for per-call
approval (AP-6): what it actually did is recorded, so a test knows whether a call got through.

* ``delete_file(path)``: no annotations (a registration must name it to hold its calls);
* ``wipe(volume)``: annotated ``destructiveHint: true``;
* ``read_file(path)``: annotated ``readOnlyHint: true`` (and, wrongly, ``destructiveHint``: a
  read-only tool is never counted destructive);
* ``ask_then_delete(path)``: asks the agent to confirm (form elicitation, UP-5) before deleting.

It trusts only the gateway's downstream tokens (the example upstream's verifier). No
``from __future__ import annotations``: the SDK reads each tool's annotations at run time.
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx2
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import (
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    InputRequiredResult,
    TextContent,
    ToolAnnotations,
)
from starlette.types import ASGIApp

from examples.upstream_server import GatewayTokenVerifier

CONFIRM = {"type": "object", "properties": {"sure": {"type": "boolean"}}}


@dataclass
class GuardedUpstream:
    label: str
    done: list[tuple[str, str]] = field(default_factory=list)
    """``(tool, argument)`` for every call the upstream carried out, in order."""


def build_server(upstream: GuardedUpstream, verifier: GatewayTokenVerifier) -> MCPServer:
    auth = AuthSettings(
        issuer_url=verifier.issuer,  # type: ignore[arg-type]  # pydantic validates the string
        resource_server_url=verifier.audience,  # type: ignore[arg-type]
        validate_token_resource=False,
    )
    server: MCPServer = MCPServer(upstream.label, token_verifier=verifier, auth=auth, log_level="WARNING")

    @server.tool()
    def delete_file(path: str) -> str:
        """Deletes a file."""
        upstream.done.append(("delete_file", path))
        return f"deleted {path}"

    @server.tool(annotations=ToolAnnotations(destructive_hint=True))
    def wipe(volume: str) -> str:
        """Erases a volume."""
        upstream.done.append(("wipe", volume))
        return f"wiped {volume}"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, destructive_hint=True))
    def read_file(path: str) -> str:
        """Reads a file."""
        upstream.done.append(("read_file", path))
        return f"contents of {path}"

    @server.tool()
    def ask_then_delete(path: str, ctx: Context) -> CallToolResult | InputRequiredResult:
        """Deletes a file once the person confirms."""
        if not ctx.input_responses:
            ask = ElicitRequest(
                params=ElicitRequestFormParams(message=f"Delete {path}?", requested_schema=CONFIRM)
            )
            return InputRequiredResult(input_requests={"confirm": ask}, request_state=f"confirm:{path}")
        upstream.done.append(("ask_then_delete", path))
        return CallToolResult(content=[TextContent(type="text", text=f"deleted {path} after asking")])

    return server


def guarded_app(
    upstream: GuardedUpstream, issuer: str, origin: str, jwks_transport: httpx2.AsyncBaseTransport
) -> ASGIApp:
    """The upstream served at ``origin`` (its audience ``<origin>/mcp``), trusting ``issuer``'s tokens."""
    verifier = GatewayTokenVerifier(issuer, f"{origin}/mcp", jwks_transport=jwks_transport)
    return build_server(upstream, verifier).streamable_http_app(
        stateless_http=True, json_response=True, host=urlsplit(origin).hostname or ""
    )
