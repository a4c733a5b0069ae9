"""An example agent: list the tools it may use through the gateway and call one.

    python examples/agent.py --gateway http://127.0.0.1:8000 --client-id demo-agent \\
        --key var/demo-agent.pem --tool weather__get_forecast --arguments '{"city": "Paris"}'

It is a plain ``mcp`` SDK client. The SDK's ``PrivateKeyJWTOAuthProvider`` answers the gateway's
401: it reads the protected-resource metadata, then the authorization server metadata, and gets a
token with ``client_credentials`` authenticated by a JWT signed with the agent's private key
(``private_key_jwt``, RFC 7523). The token lives only in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import httpx2
from mcp.client.auth import TokenStorage
from mcp.client.auth.extensions.client_credentials import PrivateKeyJWTOAuthProvider, SignedJWTParameters
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent


class MemoryTokenStorage(TokenStorage):
    """Tokens for this run only: the agent asks again next time."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def oauth_provider(
    mcp_url: str, issuer: str, client_id: str, private_key_pem: str
) -> PrivateKeyJWTOAuthProvider:
    """The SDK's client_credentials + private_key_jwt provider.

    No ``scope=``: the SDK replaces it with what discovery suggests (the 401's ``scope``, else the
    resource's ``scopes_supported``, else none), so the gateway grants what the agent may hold.
    """
    assertions = SignedJWTParameters(
        issuer=client_id, subject=client_id, signing_key=private_key_pem, signing_algorithm="ES256"
    ).create_assertion_provider()
    return PrivateKeyJWTOAuthProvider(
        server_url=mcp_url,
        storage=MemoryTokenStorage(),
        client_id=client_id,
        assertion_provider=assertions,
        issuer=issuer,  # a plain string: compared byte for byte with the metadata's issuer
    )


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def describe(result: CallToolResult) -> str:
    if result.structured_content is not None:
        return json.dumps(result.structured_content, indent=2)
    parts = [
        item.text if isinstance(item, TextContent) else item.model_dump_json() for item in result.content
    ]
    return "\n".join(parts)


async def run(
    gateway: str,
    issuer: str,
    client_id: str,
    private_key_pem: str,
    tool: str,
    arguments: dict[str, Any],
) -> int:
    mcp_url = gateway.rstrip("/") + "/mcp"
    provider = oauth_provider(mcp_url, issuer, client_id, private_key_pem)
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        Client(streamable_http_client(mcp_url, http_client=http)) as client,
    ):
        listing = await client.list_tools()
        print(f"{len(listing.tools)} tool(s) available to {client_id}:")
        for entry in listing.tools:
            print(f"  {entry.name}: {first_line(entry.description)}")
        print(f"\ncalling {tool} {json.dumps(arguments)}")
        try:
            result = await client.call_tool(tool, arguments)
        except MCPError as exc:
            print(f"refused: {exc.message} (JSON-RPC error {exc.code})", file=sys.stderr)
            return 1
    print(("tool error:\n" if result.is_error else "") + describe(result))
    return 1 if result.is_error else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8000", help="the gateway's base URL")
    parser.add_argument("--issuer", help="the gateway's issuer, exact (default: --gateway)")
    parser.add_argument("--client-id", default="demo-agent")
    parser.add_argument("--key", type=Path, default=Path("var/demo-agent.pem"), help="private key (PEM)")
    parser.add_argument("--tool", default="weather__get_forecast")
    parser.add_argument("--arguments", default='{"city": "Paris"}', help="the tool's arguments (JSON)")
    parser.add_argument("--verbose", action="store_true", help="show the SDK's own log messages")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    if not args.verbose:
        # The SDK logs a traceback for a refused token request; the one line below says the same.
        logging.getLogger("mcp").setLevel(logging.CRITICAL)
    try:
        arguments = json.loads(args.arguments)
    except ValueError:
        parser.error("--arguments must be JSON")
    if not isinstance(arguments, dict):
        parser.error("--arguments must be a JSON object")
    issuer = args.issuer or args.gateway.rstrip("/")
    try:
        private_key_pem = args.key.read_text()
    except OSError as exc:
        raise SystemExit(f"agent: cannot read the private key {args.key}: {exc.strerror}") from None
    try:
        code = asyncio.run(run(args.gateway, issuer, args.client_id, private_key_pem, args.tool, arguments))
    except Exception as exc:
        # The SDK raises from inside task groups; show what went wrong at the bottom.
        raise SystemExit("agent: " + "; ".join(f"{type(e).__name__}: {e}" for e in leaves(exc))) from None
    raise SystemExit(code)


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


if __name__ == "__main__":
    main()
