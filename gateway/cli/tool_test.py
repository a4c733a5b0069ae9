"""``mcp-gateway tools test TOOL --arguments JSON [--as CLIENT]``: a tool author's loop. One call of
the exposed tool ``TOOL`` through the gateway's real path, showing the request that went upstream
(redacted) and what came back.

    discover TOOL's server (as ``tools refresh`` does: a fresh process has an empty catalogue)
    -> mint a token for /mcp -> POST tools/call to the /mcp stack in process (bearer, scopes,
    pinning, call approval, exchange, forwarding and audit, as for any agent) -> print

Who calls: by default the subject and client :data:`TEST_CLIENT`, holding exactly the tool's
scopes, so the tool itself is what is tested; ``--as CLIENT`` holds what that registered client
would be issued by ``client_credentials`` now (its scopes, narrowed by the approval policy and
widened by its grants), so the author sees what that agent gets, refusals included. Either way
the token carries :data:`~gateway.resource.call_audit.TOOL_TEST_CLAIM`: its ``tool_call`` event
names the operator (``by=cli:<name>``) and says ``test: true`` (AU-9).

The request shown is what the gateway's upstream transport sent, recorded by the
:class:`~gateway.upstream.recording_transport.RecordingTransport` the CLI builds the gateway with:
no token is ever printed, only the claims of the exchanged one (AU-9).

Exit codes: 0 the tool answered a result that is not a tool error, 1 a tool error (``isError``), a
JSON-RPC error, a refusal (unknown tool, missing scope, held definition, unhealthy upstream) or
no such client, 2 bad ``--arguments``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from gateway.cli.operator import operator_of
from gateway.cli.output import Handler
from gateway.cli.tool_test_report import CallReport, call_report, print_report
from gateway.resource.call_audit import TOOL_TEST_CLAIM
from gateway.upstream.recording_transport import RecordingTransport
from tools_registry.servers import UpstreamServer

if TYPE_CHECKING:
    from gateway.composition import Gateway

TEST_CLIENT = "mcp-gateway-tools-test"
"""The subject and client of a test call made without ``--as``: no registered client, no grant."""
DISCOVERY_LOGGERS = ("mcp_gateway.discovery", "tools_registry")
TOKEN_LIFETIME = 180
"""Seconds: longer than the longest upstream timeout (120 s), so the call never outlives its token."""


def add_action(actions: Any) -> None:
    """``test``, under ``tools``'s subcommand parsers."""
    test = actions.add_parser("test", help="call a tool through the gateway and show what went upstream")
    test.add_argument("tool", help="the exposed name: <server>__<tool>")
    test.add_argument("--arguments", default="{}", metavar="JSON", help="the call's arguments (an object)")
    test.add_argument(
        "--as",
        dest="client",
        metavar="CLIENT",
        help=f"call as this registered client, with what it would be issued (default: {TEST_CLIENT} "
        "with exactly the tool's scopes)",
    )


def parse_arguments(text: str) -> dict[str, Any]:
    """``--arguments``: a JSON object, else :class:`ValueError` (one line, exit 2).

    >>> parse_arguments('{"city": "Paris"}')
    {'city': 'Paris'}
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--arguments is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"--arguments must be a JSON object, not {type(value).__name__}")
    return value


async def _test(gateway: Gateway, args: argparse.Namespace) -> int:
    arguments = parse_arguments(args.arguments)
    by = operator_of(args).subject
    recorder = gateway.transport
    if not isinstance(recorder, RecordingTransport):  # the CLI always builds one: main._with_gateway
        raise ValueError("tools test needs the gateway built with a recording transport")
    await gateway.keys.ensure_keys()  # discovery and the test token are signed: a fresh store has none
    server = await _server_of(gateway, args.tool)
    if server is not None:
        with _quiet(*DISCOVERY_LOGGERS):  # a failure is this command's one line, not three
            found = await gateway.discovery.refresh(server)
        if not found["healthy"]:
            return _refused(f"upstream {server.id} is unhealthy: {found.get('reason', 'no reason given')}")
    token = await _token(gateway, args, by)
    if token is None:
        return _refused(f"no client {args.client!r}")
    with recorder.recording() as recording:
        status, answer = await _call(gateway, token, args.tool, arguments)
    report = call_report(args.tool, recording.sent, status, answer)
    return _shown(args, report)


async def _server_of(gateway: Gateway, tool: str) -> UpstreamServer | None:
    """The registered server whose tools' names ``tool`` has the form of (the longest id wins)."""
    separator = gateway.settings.mcp.tool_namespace_separator
    servers = [s for s in await gateway.servers.list_servers() if tool.startswith(s.id + separator)]
    return max(servers, key=lambda s: len(s.id), default=None)


async def _token(gateway: Gateway, args: argparse.Namespace, by: str) -> str | None:
    """A token for /mcp, marked as the test of ``by``; None when ``--as`` names no client."""
    audience = gateway.targets.gateway_resource
    marked = {TOOL_TEST_CLAIM: by}
    if args.client is None:
        tool = gateway.catalog.lookup(args.tool) or _unavailable(gateway, args.tool)
        scopes = tool.scopes if tool is not None else ()
        issued = await gateway.issuer.issue(
            subject=TEST_CLIENT,
            client_id=TEST_CLIENT,
            audience=audience,
            scopes=scopes,
            lifetime=TOKEN_LIFETIME,
            extra=marked,
        )
        return issued.token
    client = await gateway.clients.get(args.client)
    if client is None:
        return None
    entitled = await gateway.approvals.entitlements.entitle(client.client_id, client.scopes, (), audience)
    issued = await gateway.issuer.issue(
        subject=client.client_id,
        client_id=client.client_id,
        audience=audience,
        scopes=entitled.scopes,
        lifetime=entitled.bound(TOKEN_LIFETIME, gateway.clock.now()),
        extra={**entitled.claims(), **marked},
    )
    return issued.token


@contextlib.contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """The named loggers say nothing below ERROR inside the block."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _unavailable(gateway: Gateway, name: str) -> Any:
    found = gateway.catalog.unavailable(name)
    return found[0] if found is not None else None


async def _call(gateway: Gateway, token: str, tool: str, arguments: dict[str, Any]) -> tuple[int, Any]:
    """One ``tools/call`` (2026-07-28: no session) to the /mcp stack as ``create_app`` mounts it,
    called in process: the HTTP status and the JSON answer."""
    import httpx2
    from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS
    from starlette.responses import PlainTextResponse

    from gateway.resource.routes import McpRoute, mcp_app

    mcp = gateway.settings.mcp
    version = MODERN_PROTOCOL_VERSIONS[-1]
    meta = {PROTOCOL_VERSION_META_KEY: version, CLIENT_CAPABILITIES_META_KEY: {}}
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": meta},
    }
    headers = {
        "Accept": "application/json",
        "Authorization": f"Bearer {token}",
        "MCP-Protocol-Version": version,
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
    }
    # No AuditChannel around it (create_app's would say "agent"): the call's events keep the "cli"
    # channel the command entered.
    app = McpRoute(PlainTextResponse("not found", 404), path=mcp.mcp_path, mcp_app=mcp_app(gateway))
    transport = httpx2.ASGITransport(app)
    async with httpx2.AsyncClient(transport=transport, timeout=TOKEN_LIFETIME) as http:
        response = await http.post(mcp.resource, json=body, headers=headers)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None


def _refused(message: str) -> int:
    print(f"mcp-gateway: {message}", file=sys.stderr)
    return 1


def _shown(args: argparse.Namespace, report: CallReport) -> int:
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        print_report(report)
    return report.exit_code


HANDLERS: dict[tuple[str, str], Handler] = {("tools", "test"): _test}
