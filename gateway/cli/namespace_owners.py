"""``mcp-gateway tools owners``: who owns which namespace, the namespaces a tool author may
register upstream servers in (AD-9).

    mcp-gateway tools owners [NAMESPACE] [--json]       every namespace's owners, or one's
    mcp-gateway tools owners grant NAMESPACE PERSON     PERSON (a subject) owns NAMESPACE too
    mcp-gateway tools owners revoke NAMESPACE PERSON    PERSON owns it no more

Granting and withdrawing go through the registration service as the operator ``cli:<name>``
(``--as``), a security admin, and are audited (``namespace_owner_granted`` / ``_revoked``).
Withdrawing ownership leaves the namespace's servers as they are: a security admin keeps them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gateway import builders
from gateway.cli.operator import operator_of
from gateway.cli.output import Handler, emit, table

if TYPE_CHECKING:
    from gateway.composition import Gateway

USAGE = "tools owners takes [NAMESPACE], or grant|revoke NAMESPACE PERSON"


def add_action(actions: Any) -> None:
    owners = actions.add_parser("owners", help="who owns which namespace; grant or revoke ownership")
    owners.add_argument("words", nargs="*", metavar="[grant|revoke] NAMESPACE [PERSON]", help=USAGE)


async def _owners(gateway: Gateway, args: argparse.Namespace) -> int:
    service = builders.registrations(gateway)
    words = list(args.words)
    if len(words) == 3 and words[0] in ("grant", "revoke"):
        action, namespace, person = words
        change = service.grant if action == "grant" else service.revoke
        owners = await change(namespace, person, operator_of(args))
        done = "now owns" if action == "grant" else "no longer owns"
        emit(args, {"namespace": namespace, "owners": list(owners)}, f"{person} {done} namespace {namespace}")
        return 0
    if len(words) > 1:
        raise ValueError(USAGE)
    every = await service.owners()
    if words:
        every = {words[0]: every.get(words[0], ())}
    data = [{"namespace": ns, "owners": list(owners)} for ns, owners in every.items()]
    emit(
        args, data, table(("namespace", "owners"), [(d["namespace"], d["owners"]) for d in data], "no owners")
    )
    return 0


HANDLERS: dict[tuple[str, str], Handler] = {("tools", "owners"): _owners}
