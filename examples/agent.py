"""An example agent: list the tools it may use through the gateway and call one.

    python examples/agent.py --gateway http://127.0.0.1:8000 --client-id demo-agent \\
        --key var/demo-agent.pem --tool weather__get_forecast --arguments '{"city": "Paris"}'

With ``--ask SCOPE --why TEXT`` it first asks the security team for a scope it lacks and waits for
the decision: it files a request at the ``access_request_endpoint`` the gateway's metadata names,
authenticated exactly as at ``/token``, then looks at it every ``interval`` seconds.

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
import time
from collections.abc import Awaitable, Callable
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


def assertion_provider(client_id: str, private_key_pem: str) -> Callable[[str], Awaitable[str]]:
    """Signs a fresh ``private_key_jwt`` assertion for each request (the SDK's own signer)."""
    return SignedJWTParameters(
        issuer=client_id, subject=client_id, signing_key=private_key_pem, signing_algorithm="ES256"
    ).create_assertion_provider()


def oauth_provider(
    mcp_url: str, issuer: str, client_id: str, private_key_pem: str
) -> PrivateKeyJWTOAuthProvider:
    """The SDK's client_credentials + private_key_jwt provider.

    No ``scope=``: the SDK replaces it with what discovery suggests (the 401's ``scope``, else the
    resource's ``scopes_supported``, else none), so the gateway grants what the agent may hold.
    """
    return PrivateKeyJWTOAuthProvider(
        server_url=mcp_url,
        storage=MemoryTokenStorage(),
        client_id=client_id,
        assertion_provider=assertion_provider(client_id, private_key_pem),
        issuer=issuer,  # a plain string: compared byte for byte with the metadata's issuer
    )


JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


async def _assertion_form(assertions: Callable[[str], Awaitable[str]], issuer: str) -> dict[str, str]:
    return {"client_assertion_type": JWT_BEARER, "client_assertion": await assertions(issuer)}


async def ask_and_wait(
    http: httpx2.AsyncClient,
    issuer: str,
    assertions: Callable[[str], Awaitable[str]],
    scopes: list[str],
    why: str,
    *,
    wait: float = 600.0,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """File a request for ``scopes`` and wait up to ``wait`` seconds; the last status seen."""
    metadata = (await http.get(issuer.rstrip("/") + "/.well-known/oauth-authorization-server")).json()
    endpoint = metadata["access_request_endpoint"]
    form = {**await _assertion_form(assertions, issuer), "scope": " ".join(scopes), "justification": why}
    filed = await http.post(endpoint, data=form)
    if filed.status_code != 201:
        error = filed.json()
        say(f"the request was refused: {error.get('error')}: {error.get('error_description', '')}")
        return dict(error)
    status: dict[str, Any] = filed.json()
    say(f"asked for {status['scope']}: request {status['request_id']} is {status['status']}")
    say(f"  approve it: .venv/bin/mcp-gateway approvals approve {status['request_id']}")
    say(f"  or at the console: {issuer.rstrip('/')}/admin (sign in as a security-admin)")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while status["status"] == "pending" and loop.time() < deadline:
        await asyncio.sleep(status.get("interval", 5))
        looked = await http.post(status["status_url"], data=await _assertion_form(assertions, issuer))
        status = looked.json()
    if status["status"] == "approved":
        until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(status["granted_until"]))
        say(f"approved: {status['granted_scope']} until {until}")
    elif status["status"] == "denied":
        say(f"denied: {status.get('reason', '')}")
    else:
        say(f"still {status['status']}; giving up for now")
    return status


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
    ask: list[str] | None = None,
    why: str = "",
) -> int:
    mcp_url = gateway.rstrip("/") + "/mcp"
    if ask:
        async with httpx2.AsyncClient(timeout=30) as plain:
            status = await ask_and_wait(
                plain, issuer, assertion_provider(client_id, private_key_pem), ask, why
            )
        if status.get("status") != "approved":
            return 1
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
    parser.add_argument("--ask", action="append", metavar="SCOPE", help="ask for a scope first (repeatable)")
    parser.add_argument("--why", default="", help="the justification the security team reads")
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
        code = asyncio.run(
            run(
                args.gateway,
                issuer,
                args.client_id,
                private_key_pem,
                args.tool,
                arguments,
                args.ask,
                args.why,
            )
        )
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
