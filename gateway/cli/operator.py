"""Who acts when the approval commands (``approvals``, ``grants``, ``calls``) decide, and when the
commands that write (``clients``, ``users``, ``tools``, ``keys``, ``webhooks``) change something:
the operator at the command line, recorded as the actor of their audit event (AU-7).

Whoever can run these commands against the store can also write to the store directly, so there
is nothing to check their roles against: the CLI's principal is ``cli:<name>`` with the roles
``security-admin`` and ``auditor``. The name is ``--as NAME``, else ``$USER``, else the login name
of the process; it is what the grant's ``granted_by`` and the audit trail record. The desks still
apply every rule that is not about roles: a request whose client id or person is ``cli:<name>``
cannot be decided by that name (AP-4), a two-person scope needs two different names, a decision
is taken once. A rule whose approvers are ``tool-author`` is decided at the admin API by a tool
author, not here; a held call whose approver is the person it was made for
(``call_approver = "person"``) is approved by that person, in the console.
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Iterable
from typing import Any

from gateway.approvals.decisions import Principal

ROLES = ("security-admin", "auditor")
PREFIX = "cli:"


def add_operator_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as", dest="operator", metavar="NAME", help="who decides (default: $USER)")


def add_operator_flags(actions: Any, names: Iterable[str]) -> None:
    """``--as NAME`` on the named actions of a command (its subparsers' ``choices``)."""
    for name in names:
        add_operator_flag(actions.choices[name])


def operator_of(args: argparse.Namespace) -> Principal:
    """The principal named by ``--as`` or the environment; :class:`ValueError` when there is none."""
    name = getattr(args, "operator", None) or os.environ.get("USER") or _login_name()
    name = name.strip()
    if not name or not name.isprintable() or len(name) > 200:
        raise ValueError("name who decides with --as NAME (printable, at most 200 characters)")
    return Principal(subject=PREFIX + name, roles=ROLES)


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no password entry (a bare container)
        return ""
