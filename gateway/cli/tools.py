"""``mcp-gateway tools add|list|show|remove|refresh``: upstream MCP servers on the configured store.

Servers added here live in the store (collection ``upstream_servers``), so a running gateway sees
them without a restart; ``[[servers]]`` of the config file are listed but read-only. Exit codes
as for ``clients``: 0 done, 1 no such server or the store is down, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from tools_registry.servers import RegistryError, ServerRegistry, UpstreamServer, configured_servers

Handler = Callable[[Any, argparse.Namespace], Awaitable[int]]


def add_parser(commands: Any) -> None:
    """The ``tools`` command and its actions, under the CLI's subcommand parsers."""
    tools = commands.add_parser("tools", help="manage upstream MCP servers and their tools")
    actions = tools.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="register an upstream MCP server")
    add.add_argument("server_id", help="also the namespace of its tools: <id>.<tool>")
    add.add_argument("--url", required=True, help="its MCP endpoint (https; http only on loopback)")
    add.add_argument("--audience", default="", help="the aud its tokens need (default: the url)")
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
    actions.add_parser("list", help="list upstream servers")
    actions.add_parser("show", help="show an upstream server").add_argument("server_id")
    actions.add_parser("remove", help="remove an upstream server").add_argument("server_id")
    refresh = actions.add_parser("refresh", help="discover the tools again (all servers, or one)")
    refresh.add_argument("server_id", nargs="?")
    for sub in actions.choices.values():
        sub.add_argument("--json", action="store_true", help="machine-readable output")


def registry(gateway: Any) -> ServerRegistry:
    """The servers of the gateway's config file and store."""
    return ServerRegistry(gateway.store, configured_servers(gateway.settings.servers))


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


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else text)


def _not_found(server_id: str) -> int:
    print(f"mcp-gateway: no upstream server {server_id!r}", file=sys.stderr)
    return 1


async def _add(gateway: Any, args: argparse.Namespace) -> int:
    tool_scopes = {
        tool: tuple(s.strip() for s in scopes.split(","))
        for tool, scopes in _pairs("--tool-scope", args.tool_scope).items()
    }
    server = UpstreamServer(
        id=args.server_id,
        url=args.url,
        audience=args.audience,
        tool_scopes=tool_scopes,
        default_scopes=tuple(args.default_scope) if args.default_scope else None,
        descriptions=_pairs("--description", args.description),
        timeout=args.timeout,
        refresh_interval=args.refresh_interval,
    )
    added = await registry(gateway).add(server)
    _emit(args, added.as_dict(), f"registered upstream server {added.id} ({added.url})")
    return 0


async def _list(gateway: Any, args: argparse.Namespace) -> int:
    servers = await registry(gateway).list_servers()
    rows = [f"{s.id}\t{s.url}\t({s.source})" for s in servers]
    _emit(args, [s.as_dict() for s in servers], "\n".join(rows) or "no upstream servers registered")
    return 0


async def _show(gateway: Any, args: argparse.Namespace) -> int:
    server = await registry(gateway).get(args.server_id)
    if server is None:
        return _not_found(args.server_id)
    view = server.as_dict()
    _emit(args, view, "\n".join(f"{k}: {v}" for k, v in view.items()))
    return 0


async def _remove(gateway: Any, args: argparse.Namespace) -> int:
    if not await registry(gateway).remove(args.server_id):
        return _not_found(args.server_id)
    _emit(args, {"removed": args.server_id}, f"removed upstream server {args.server_id}")
    return 0


async def _refresh(gateway: Any, args: argparse.Namespace) -> int:
    if args.server_id is not None and await registry(gateway).get(args.server_id) is None:
        return _not_found(args.server_id)
    from gateway.upstream.refresher import refresh_tools

    result = await refresh_tools(gateway, args.server_id)
    _emit(args, result, json.dumps(result, indent=2, sort_keys=True))
    return 0


HANDLERS: dict[tuple[str, str], Handler] = {
    ("tools", "add"): _add,
    ("tools", "list"): _list,
    ("tools", "show"): _show,
    ("tools", "remove"): _remove,
    ("tools", "refresh"): _refresh,
}
