"""``mcp-gateway``: serve, and manage clients, upstream tools and keys on the configured store.

Every management command works on the same store as a running server, so a client added here is
usable at once without a restart. ``--json`` prints machine-readable output for scripts.
Exit codes: 0 done, 1 the store or the object was not there, 2 bad configuration or arguments.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio

from gateway.cli import tools as cli_tools
from gateway.config import ConfigError, Settings, load_settings
from gateway.oauth.authorize.users import UserError
from gateway.oauth.clients.model import (
    AUTH_METHODS,
    GRANT_TYPES,
    Client,
    ClientError,
    hash_secret,
    new_secret,
)
from gateway.store import StoreUnavailable
from gateway.store.factory import open_store


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-gateway", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="TOML config file (or MCP_GATEWAY_CONFIG)")
    parser.add_argument("--store", help="store URL, overrides the config (or MCP_GATEWAY_STORE)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", help="bind address (default 127.0.0.1: loopback only)")
    serve.add_argument("--port", type=int)

    clients = commands.add_parser("clients", help="manage registered clients").add_subparsers(
        dest="action", required=True
    )
    add = clients.add_parser("add", help="register a client")
    add.add_argument("client_id")
    add.add_argument("--name", default="")
    add.add_argument("--auth-method", choices=AUTH_METHODS, default="private_key_jwt")
    add.add_argument("--scope", action="append", default=[], help="an allowed scope (repeatable)")
    add.add_argument("--audience", action="append", default=[], help="an allowed resource (repeatable)")
    add.add_argument("--jwks", help="a JWKS as JSON, or @file")
    add.add_argument("--jwks-uri", help="where the client publishes its JWKS (https)")
    add.add_argument("--grant-type", action="append", choices=GRANT_TYPES, help="default: client_credentials")
    add.add_argument(
        "--redirect-uri", action="append", default=[], help="for authorization_code (repeatable)"
    )
    for name in ("list", "show", "remove"):
        sub = clients.add_parser(name, help=f"{name} registered clients")
        if name != "list":
            sub.add_argument("client_id")
    users = commands.add_parser("users", help="manage built-in sign-in users").add_subparsers(
        dest="action", required=True
    )
    add_user = users.add_parser("add", help="add a user (password read from stdin or asked for)")
    add_user.add_argument("username")
    add_user.add_argument("--display-name", default="")
    add_user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    users.add_parser("list", help="list users")
    users.add_parser("remove", help="remove a user").add_argument("username")
    keys = commands.add_parser("keys", help="manage signing keys").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser("list", help="the signing keys and their states")
    keys.add_parser("rotate", help="publish a new key now; it signs after key_publish_lead seconds")
    cli_tools.add_parser(commands)
    for sub_parsers in (clients, users, keys):
        for sub in sub_parsers.choices.values():
            sub.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config, overrides={"store": args.store})
        if args.command == "serve":
            settings = load_settings(
                args.config, overrides={"store": args.store, "host": args.host, "port": args.port}
            )
            from gateway.server import serve

            serve(settings)
            return 0
        handler = _HANDLERS[(args.command, args.action)]
        return anyio.run(_with_gateway, settings, args, handler)
    except (ConfigError, ClientError, UserError, ValueError) as exc:
        print(f"mcp-gateway: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"mcp-gateway: the store is unavailable: {exc}", file=sys.stderr)
        return 1


Handler = Callable[[Any, argparse.Namespace], Awaitable[int]]


async def _with_gateway(settings: Settings, args: argparse.Namespace, handler: Handler) -> int:
    from gateway.composition import build_gateway

    gateway = build_gateway(settings, open_store(settings.store))
    try:
        return await handler(gateway, args)
    finally:
        await gateway.fetcher.aclose()
        await gateway.store.close()


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else text)


def _read_jwks(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        raw = Path(value[1:]).read_text() if value.startswith("@") else value
    except OSError as exc:
        raise ClientError(f"--jwks file {value[1:]} cannot be read: {exc.strerror}") from None
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ClientError("--jwks is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ClientError("--jwks must be a JSON object")
    return parsed


async def _clients_add(gateway: Any, args: argparse.Namespace) -> int:
    secret = None if args.auth_method in ("private_key_jwt", "none") else new_secret()
    client = Client(
        client_id=args.client_id,
        auth_method=args.auth_method,
        name=args.name or args.client_id,
        scopes=tuple(args.scope),
        audiences=tuple(args.audience),
        grant_types=tuple(args.grant_type or ["client_credentials"]),
        redirect_uris=tuple(args.redirect_uri),
        jwks=_read_jwks(args.jwks),
        jwks_uri=args.jwks_uri,
        secret_hash=hash_secret(secret) if secret else None,
        created_at=int(gateway.clock.now()),
    )
    await gateway.clients.add(client)
    data = {**client.public_view(), "client_secret": secret}
    text = f"registered client {client.client_id}"
    if secret:
        text += f"\nclient_secret: {secret}\n(shown once: only its hash is kept)"
    _emit(args, data, text)
    return 0


async def _clients_list(gateway: Any, args: argparse.Namespace) -> int:
    clients = await gateway.clients.list_clients()
    rows = [f"{c.client_id}\t{c.auth_method}\t{' '.join(c.scopes)}\t({c.source})" for c in clients]
    _emit(args, [c.public_view() for c in clients], "\n".join(rows) or "no clients registered")
    return 0


async def _clients_show(gateway: Any, args: argparse.Namespace) -> int:
    client = await gateway.clients.get(args.client_id)
    if client is None:
        print(f"mcp-gateway: no client {args.client_id!r}", file=sys.stderr)
        return 1
    view = client.public_view()
    _emit(args, view, "\n".join(f"{k}: {v}" for k, v in view.items()))
    return 0


async def _clients_remove(gateway: Any, args: argparse.Namespace) -> int:
    if not await gateway.clients.remove(args.client_id):
        print(f"mcp-gateway: no client {args.client_id!r}", file=sys.stderr)
        return 1
    _emit(args, {"removed": args.client_id}, f"removed client {args.client_id}")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("password: ")
    if password != getpass.getpass("again: "):
        raise UserError("the passwords differ")
    return password


async def _users_add(gateway: Any, args: argparse.Namespace) -> int:
    user = await gateway.users.add(args.username, _read_password(args), args.display_name)
    _emit(args, user.public_view(), f"added user {user.username}")
    return 0


async def _users_list(gateway: Any, args: argparse.Namespace) -> int:
    users = [u.public_view() for u in await gateway.users.list_users()]
    _emit(args, users, "\n".join(u["username"] for u in users) or "no users")
    return 0


async def _users_remove(gateway: Any, args: argparse.Namespace) -> int:
    if not await gateway.users.remove(args.username):
        print(f"mcp-gateway: no user {args.username!r}", file=sys.stderr)
        return 1
    _emit(args, {"removed": args.username}, f"removed user {args.username}")
    return 0


async def _keys_list(gateway: Any, args: argparse.Namespace) -> int:
    await gateway.keys.ensure_key()
    infos = [info.as_dict() for info in await gateway.keys.list_keys()]
    rows = [f"{i['kid']}\t{i['state']}\tsigns from {i['activates_at']}" for i in infos]
    _emit(args, infos, "\n".join(rows))
    return 0


async def _keys_rotate(gateway: Any, args: argparse.Namespace) -> int:
    await gateway.keys.ensure_key()
    info = (await gateway.keys.rotate()).as_dict()
    _emit(args, info, f"new key {info['kid']} is published now and signs from {info['activates_at']}")
    return 0


_HANDLERS: dict[tuple[str, str], Handler] = {
    ("clients", "add"): _clients_add,
    ("clients", "list"): _clients_list,
    ("clients", "show"): _clients_show,
    ("clients", "remove"): _clients_remove,
    ("users", "add"): _users_add,
    ("users", "list"): _users_list,
    ("users", "remove"): _users_remove,
    ("keys", "list"): _keys_list,
    ("keys", "rotate"): _keys_rotate,
    **cli_tools.HANDLERS,
}


if __name__ == "__main__":
    raise SystemExit(main())
