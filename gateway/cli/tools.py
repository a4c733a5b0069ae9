"""``mcp-gateway tools add|list|show|remove|refresh``: upstream servers (MCP servers, and REST APIs by
their OpenAPI document) on the configured store
(``review|approve|reject``, their pending tool definitions, are in :mod:`gateway.cli.tool_pins`).

Servers added here live in the store (collection ``upstream_servers``), so a running gateway sees
them without a restart; ``[[servers]]`` of the config file are listed but read-only. Exit codes
as for ``clients``: 0 done, 1 no such server or the store is down, 2 bad arguments.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gateway import builders
from gateway.cli import namespace_owners, tool_pins, tool_test
from gateway.cli.operator import add_operator_flags, operator_of
from gateway.cli.output import Handler, add_json_flag, emit, not_found, removed, show, table
from tools_registry.document_files import read_document_file
from tools_registry.input_requests import INPUT_REQUEST_KINDS
from tools_registry.pins import DEFAULT_PINNING, PINNING_POLICIES
from tools_registry.servers import RegistryError, is_document_url

if TYPE_CHECKING:
    from gateway.composition import Gateway


def add_parser(commands: Any) -> None:
    """The ``tools`` command and its actions, under the CLI's subcommand parsers."""
    tools = commands.add_parser("tools", help="manage upstream MCP servers and their tools")
    actions = tools.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="register an upstream MCP server or REST API")
    add.add_argument("server_id", help="also the namespace of its tools: <id>__<tool> by default")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="an MCP server's endpoint (https; http only on loopback)")
    where.add_argument(
        "--openapi", metavar="URL|FILE", help="a REST API's OpenAPI 3.0/3.1 document: each operation a tool"
    )
    add.add_argument("--base-url", default="", help="with --openapi: where its operations are called")
    add.add_argument(
        "--operations",
        default="",
        metavar="A,B",
        help="with --openapi: only these (tool names or operationIds)",
    )
    add.add_argument("--audience", default="", help="the aud its tokens need (default: the url or base url)")
    add.add_argument(
        "--foreign-audience",
        action="store_true",
        help="allow an audience on another origin than the url (tokens for it will go to the url)",
    )
    add.add_argument(
        "--tool-scope",
        action="append",
        default=[],
        metavar="TOOL=SCOPE[,SCOPE…]",
        help="the scopes a tool needs (repeatable)",
    )
    add.add_argument(
        "--default-scope",
        action="append",
        metavar="SCOPE",
        help="scope of the tools not named by --tool-scope (repeatable; default: <id>:<tool>)",
    )
    add.add_argument(
        "--description", action="append", default=[], metavar="TOOL=TEXT", help="override (repeatable)"
    )
    add.add_argument("--timeout", type=float, default=10.0, help="seconds per upstream call (max 120)")
    add.add_argument("--refresh-interval", type=float, default=300.0, help="seconds between refreshes")
    add.add_argument(
        "--input-request",
        action="append",
        default=[],
        metavar="KIND",
        help="what it may ask agents during a call (repeatable): "
        f"{', '.join(INPUT_REQUEST_KINDS)}; default: nothing",
    )
    add.add_argument(
        "--call-approval",
        action="append",
        default=[],
        metavar="TOOL",
        help='a tool each call of which waits for approval (repeatable; "*": every tool)',
    )
    add.add_argument(
        "--audit-arguments",
        action="append",
        default=[],
        metavar="TOOL",
        help='a tool whose calls are audited with their argument values (repeatable; "*": every tool)',
    )
    add.add_argument(
        "--audit-redact",
        action="append",
        default=[],
        metavar="ARGUMENT",
        help="an argument name recorded as [redacted] in those calls (repeatable)",
    )
    add.add_argument(
        "--pinning",
        choices=PINNING_POLICIES,
        default=DEFAULT_PINNING,
        help="what a tool definition not pinned does: wait for review (review), only after the first "
        f"discovery (first-use), never (trusted); default: {DEFAULT_PINNING}",
    )
    actions.add_parser("list", help="list upstream servers")
    actions.add_parser("show", help="show an upstream server").add_argument("server_id")
    actions.add_parser("remove", help="remove an upstream server").add_argument("server_id")
    refresh = actions.add_parser("refresh", help="discover the tools again (all servers, or one)")
    refresh.add_argument("server_id", nargs="?")
    tool_pins.add_actions(actions)
    tool_test.add_action(actions)
    namespace_owners.add_action(actions)
    add_json_flag(actions.choices.values())
    add_operator_flags(actions, ("add", "remove", "owners"))


def _pairs(option: str, values: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key or not text:
            raise RegistryError(f"{option} takes TOOL=VALUE, got {value!r}")
        if key in pairs:
            raise RegistryError(f"{option} names tool {key!r} twice")
        pairs[key] = text
    return pairs


def _where(args: argparse.Namespace) -> dict[str, Any]:
    """``--url``, or ``--openapi`` with ``--base-url``: a file is read here (the service reads no
    files: only the operator's own command line does), a URL is fetched and checked to import by
    the registration service, so a mistake is told at once and every replica imports the text
    kept with the record."""
    if args.url is not None:
        if args.base_url or args.operations:
            raise RegistryError("--base-url and --operations are for a REST API (--openapi)")
        return {"url": args.url}
    if not args.base_url:
        raise RegistryError("--openapi needs --base-url: where the API's operations are called")
    picked = [name.strip() for name in args.operations.split(",") if name.strip()]
    where = {"openapi": args.openapi, "base_url": args.base_url, "operations": picked}
    if not is_document_url(args.openapi):
        where["document"] = read_document_file(args.openapi)
    return where


async def _add(gateway: Gateway, args: argparse.Namespace) -> int:
    tool_scopes = {
        tool: [s.strip() for s in scopes.split(",")]
        for tool, scopes in _pairs("--tool-scope", args.tool_scope).items()
    }
    fields = {
        "id": args.server_id,
        **_where(args),
        "audience": args.audience,
        "foreign_audience": args.foreign_audience,
        "tool_scopes": tool_scopes,
        "default_scopes": args.default_scope,
        "descriptions": _pairs("--description", args.description),
        "timeout": args.timeout,
        "refresh_interval": args.refresh_interval,
        "input_requests": args.input_request,
        "call_approval": args.call_approval,
        "audit_arguments": args.audit_arguments,
        "audit_redact": args.audit_redact,
        "pinning": args.pinning,
    }
    added = await builders.registrations(gateway).register(fields, operator_of(args))
    emit(args, added.as_dict(), f"registered upstream server {added.id} ({added.url})")
    return 0


async def _list(gateway: Gateway, args: argparse.Namespace) -> int:
    servers = await gateway.servers.list_servers()
    rows = [(s.id, s.url, s.audience, s.source) for s in servers]
    text = table(("id", "url", "audience", "source"), rows, "no upstream servers registered")
    emit(args, [s.as_dict() for s in servers], text)
    return 0


async def _show(gateway: Gateway, args: argparse.Namespace) -> int:
    server = await gateway.servers.get(args.server_id)
    if server is None:
        return not_found("upstream server", args.server_id)
    return show(args, server.as_dict())


async def _remove(gateway: Gateway, args: argparse.Namespace) -> int:
    await builders.registrations(gateway).remove(args.server_id, operator_of(args))
    return removed(args, "upstream server", args.server_id)


async def _refresh(gateway: Gateway, args: argparse.Namespace) -> int:
    if args.server_id is not None and await gateway.servers.get(args.server_id) is None:
        return not_found("upstream server", args.server_id)
    await gateway.keys.ensure_keys()  # discovery signs a token: a fresh store needs its first key
    result = await gateway.refresher.refresh_now(args.server_id)
    servers = result["servers"]
    rows = [
        (r["server"], r["healthy"], r.get("tools", 0), len(r.get("skipped", ())), r.get("reason"))
        for r in servers
    ]
    headers = ("server", "healthy", "tools", "skipped", "reason")
    skipped = [f"skipped: {line}" for r in servers for line in r.get("skipped", ())]
    emit(args, result, "\n".join([table(headers, rows, "no upstream servers registered"), *skipped]))
    return 0


HANDLERS: dict[tuple[str, str], Handler] = {
    ("tools", "add"): _add,
    ("tools", "list"): _list,
    ("tools", "show"): _show,
    ("tools", "remove"): _remove,
    ("tools", "refresh"): _refresh,
    **tool_pins.HANDLERS,
    **tool_test.HANDLERS,
    **namespace_owners.HANDLERS,
}
