"""``mcp-gateway users add|list|remove``: the built-in people who may sign in at ``/authorize``."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

from gateway.cli.output import Handler, add_json_flag, emit, not_found, removed, table
from gateway.oauth.authorize.users import UserError

if TYPE_CHECKING:
    from gateway.composition import Gateway


def add_parser(commands: Any) -> None:
    users = commands.add_parser("users", help="manage built-in sign-in users").add_subparsers(
        dest="action", required=True
    )
    add = users.add_parser("add", help="add a user (password read from stdin or asked for)")
    add.add_argument("username")
    add.add_argument("--display-name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    users.add_parser("list", help="list users")
    users.add_parser("remove", help="remove a user").add_argument("username")
    add_json_flag(users.choices.values())


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("password: ")
    if password != getpass.getpass("again: "):
        raise UserError("the passwords differ")
    return password


async def _add(gateway: Gateway, args: argparse.Namespace) -> int:
    user = await gateway.users.add(args.username, _read_password(args), args.display_name)
    emit(args, user.public_view(), f"added user {user.username}")
    return 0


async def _list(gateway: Gateway, args: argparse.Namespace) -> int:
    users = [u.public_view() for u in await gateway.users.list_users()]
    rows = [(u["username"], u["display_name"]) for u in users]
    emit(args, users, table(("username", "display name"), rows, "no users"))
    return 0


async def _remove(gateway: Gateway, args: argparse.Namespace) -> int:
    if not await gateway.users.remove(args.username):
        return not_found("user", args.username)
    return removed(args, "user", args.username)


HANDLERS: dict[tuple[str, str], Handler] = {
    ("users", "add"): _add,
    ("users", "list"): _list,
    ("users", "remove"): _remove,
}
