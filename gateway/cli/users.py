"""``mcp-gateway users add|list|remove|roles``: the built-in people who may sign in at ``/authorize``
and at the console (``/admin``), and the roles they hold there.

    mcp-gateway users add dana --role security-admin      # repeat --role for more; none by default
    mcp-gateway users roles dana --set auditor tool-author   # exactly these (--set alone: none)
    mcp-gateway users roles dana --add security-admin --remove auditor
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

from gateway.cli.operator import add_operator_flags, operator_of
from gateway.cli.output import Handler, add_json_flag, emit, not_found, removed, table
from gateway.oauth.authorize.roles import ROLES
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
    add.add_argument(
        "--role", action="append", default=[], choices=ROLES, help="a role at the console (repeatable)"
    )
    users.add_parser("list", help="list users")
    users.add_parser("remove", help="remove a user").add_argument("username")
    roles = users.add_parser("roles", help="change a user's roles at the console")
    roles.add_argument("username")
    roles.add_argument("--set", nargs="*", choices=ROLES, help="exactly these roles (none: no role)")
    roles.add_argument("--add", action="append", default=[], choices=ROLES, help="add a role (repeatable)")
    roles.add_argument(
        "--remove", action="append", default=[], choices=ROLES, help="remove a role (repeatable)"
    )
    add_json_flag(users.choices.values())
    add_operator_flags(users, ("add", "remove", "roles"))


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("password: ")
    if password != getpass.getpass("again: "):
        raise UserError("the passwords differ")
    return password


def _roles_text(roles: tuple[str, ...]) -> str:
    return ", ".join(roles) or "no role"


async def _add(gateway: Gateway, args: argparse.Namespace) -> int:
    by = operator_of(args).subject
    user = await gateway.users.add(args.username, _read_password(args), args.display_name, tuple(args.role))
    gateway.audit.record(
        "user_added",
        outcome="added",
        by=by,
        user=user.username,
        roles=" ".join(user.roles),
        before=None,
        after=user.public_view(),
    )
    emit(args, user.public_view(), f"added user {user.username} ({_roles_text(user.roles)})")
    return 0


async def _list(gateway: Gateway, args: argparse.Namespace) -> int:
    users = await gateway.users.list_users()
    rows = [(u.username, u.display_name or u.username, list(u.roles)) for u in users]
    emit(
        args, [u.public_view() for u in users], table(("username", "display name", "roles"), rows, "no users")
    )
    return 0


async def _remove(gateway: Gateway, args: argparse.Namespace) -> int:
    by = operator_of(args).subject
    before = await gateway.users.get(args.username)
    if not await gateway.users.remove(args.username):
        return not_found("user", args.username)
    gateway.audit.record(
        "user_removed",
        outcome="removed",
        by=by,
        user=args.username,
        before=before.public_view() if before is not None else None,
        after=None,
    )
    return removed(args, "user", args.username)


async def _roles(gateway: Gateway, args: argparse.Namespace) -> int:
    if (args.set is None) == (not args.add and not args.remove):
        raise UserError("give either --set, or --add and --remove")
    user = await gateway.users.get(args.username)
    if user is None:
        return not_found("user", args.username)
    wanted = args.set if args.set is not None else [*user.roles, *args.add]
    changed = await gateway.users.set_roles(
        user.username, tuple(role for role in wanted if role not in args.remove)
    )
    gateway.audit.record(
        "user_roles_changed",
        outcome="changed",
        by=operator_of(args).subject,
        user=changed.username,
        roles=" ".join(changed.roles),
        before={"roles": list(user.roles)},
        after={"roles": list(changed.roles)},
    )
    emit(args, changed.public_view(), f"user {changed.username} now holds: {_roles_text(changed.roles)}")
    return 0


HANDLERS: dict[tuple[str, str], Handler] = {
    ("users", "add"): _add,
    ("users", "list"): _list,
    ("users", "remove"): _remove,
    ("users", "roles"): _roles,
}
