"""``mcp-gateway clients add|list|show|remove``: OAuth clients (agents) kept in the store.

A client added here is usable at once by a running gateway (same store). Secrets are generated,
shown once, and kept only as a digest; ``private_key_jwt`` clients give their public keys.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.cli.operator import add_operator_flags, operator_of
from gateway.cli.output import Handler, add_json_flag, emit, not_found, removed, show, table
from gateway.oauth.clients.model import (
    AUTH_METHODS,
    GRANT_TYPES,
    Client,
    ClientError,
    hash_secret,
    new_secret,
)

if TYPE_CHECKING:
    from gateway.composition import Gateway


def add_parser(commands: Any) -> None:
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
    clients.add_parser("list", help="list registered clients")
    clients.add_parser("show", help="show a registered client").add_argument("client_id")
    clients.add_parser("remove", help="remove a registered client").add_argument("client_id")
    add_json_flag(clients.choices.values())
    add_operator_flags(clients, ("add", "remove"))


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


async def _add(gateway: Gateway, args: argparse.Namespace) -> int:
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
    by = operator_of(args).subject
    await gateway.clients.add(client)
    gateway.audit.record(
        "client_added",
        outcome="added",
        by=by,
        client_id=client.client_id,
        before=None,
        after=audited_view(client),
    )
    text = f"registered client {client.client_id}"
    if secret:
        text += f"\nclient_secret: {secret}\n(shown once: only its hash is kept)"
    emit(args, {**client.public_view(), "client_secret": secret}, text)
    return 0


def audited_view(client: Client) -> dict[str, Any]:
    """A client as its audit events show it: the public fields, without its keys (``has_jwks``)."""
    view = client.public_view()
    view["has_jwks"] = view.pop("jwks") is not None
    return view


async def _list(gateway: Gateway, args: argparse.Namespace) -> int:
    clients = await gateway.clients.list_clients()
    rows = [(c.client_id, c.auth_method, c.scopes, c.source) for c in clients]
    text = table(("client id", "authentication", "scopes", "source"), rows, "no clients registered")
    emit(args, [c.public_view() for c in clients], text)
    return 0


async def _show(gateway: Gateway, args: argparse.Namespace) -> int:
    client = await gateway.clients.get(args.client_id)
    return not_found("client", args.client_id) if client is None else show(args, client.public_view())


async def _remove(gateway: Gateway, args: argparse.Namespace) -> int:
    by = operator_of(args).subject
    before = await gateway.clients.get(args.client_id)
    if not await gateway.clients.remove(args.client_id):
        return not_found("client", args.client_id)
    gateway.audit.record(
        "client_removed",
        outcome="removed",
        by=by,
        client_id=args.client_id,
        before=audited_view(before) if before is not None else None,
        after=None,
    )
    return removed(args, "client", args.client_id)


HANDLERS: dict[tuple[str, str], Handler] = {
    ("clients", "add"): _add,
    ("clients", "list"): _list,
    ("clients", "show"): _show,
    ("clients", "remove"): _remove,
}
