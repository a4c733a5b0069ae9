"""``mcp-gateway grants list|show|revoke|review``: what clients hold, questioned at the command line.

The commands call the grant desk (:mod:`gateway.approvals.grant_desk`) on the configured store, as
the admin API and the console do: a revocation reaches every replica's not-before marks within a
second (AP-2), a review moves the next review date on (AP-5). Standing grants (a client's own
scopes, ``standing:<client id>``) are listed and shown but changed only by changing the client.
Who acts is :mod:`gateway.cli.operator`. Exit codes as for ``approvals``: 0 done, 1 no such grant
or the store is down, 2 bad arguments or a change the rules refuse (revoked already, standing).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gateway.approvals.grants import Grant
from gateway.cli.operator import add_operator_flag, operator_of
from gateway.cli.output import Handler, add_json_flag, emit, table, when

if TYPE_CHECKING:
    from gateway.composition import Gateway


def add_parser(commands: Any) -> None:
    grants = commands.add_parser("grants", help="read, revoke and re-certify grants")
    actions = grants.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list grants: standing ones first, then approved ones")
    listing.add_argument("--client", help="only this client's grants")
    listing.add_argument("--overdue", action="store_true", help="only grants past their review date")
    actions.add_parser("show", help="show a grant").add_argument("grant_id")
    revoke = actions.add_parser("revoke", help="end a grant now, and every live token that carries it")
    revoke.add_argument("grant_id")
    revoke.add_argument("--reason", required=True)
    review = actions.add_parser("review", help="re-certify a grant: its next review date moves on")
    review.add_argument("grant_id")
    review.add_argument("--note", default="", help="what was checked, for the record")
    for parser in (revoke, review):
        add_operator_flag(parser)
    add_json_flag(actions.choices.values())


def _review_by(grant: Grant, now: float) -> str:
    return when(grant.review_by) + (" (overdue)" if grant.overdue(now) else "")


def describe(grant: Grant, now: float, suspend_overdue: bool) -> str:
    """A grant as a person reads it: one ``name: value`` line each, dates in UTC."""
    lines = {
        "id": grant.grant_id,
        "status": grant.status(now, suspend_overdue),
        "client": grant.client_id,
        "scopes": " ".join(grant.scopes) or "-",
        "resource": grant.resource or "any the client may use",
        "source": grant.source,
        "granted by": " ".join(grant.granted_by) or "-",
        "reason": grant.reason or "-",
        "created": when(grant.created_at),
        "expires": when(grant.expires_at),
        "review by": _review_by(grant, now),
        "request": grant.request_id or "-",
        "reviewed": f"{when(grant.reviewed_at)} by {grant.reviewed_by}" if grant.reviewed_by else "-",
        "revoked": f"{when(grant.revoked_at)} by {grant.revoked_by}: {grant.revoke_reason}"
        if grant.revoked_by
        else "-",
    }
    return "\n".join(f"{name}: {value}" for name, value in lines.items())


def _answer(gateway: Gateway, args: argparse.Namespace, grant: Grant, text: str | None = None) -> int:
    now, suspend = gateway.clock.now(), gateway.approvals.policy.suspend_overdue
    emit(args, grant.public_view(now, suspend), text or describe(grant, now, suspend))
    return 0


async def _list(gateway: Gateway, args: argparse.Namespace) -> int:
    now, suspend = gateway.clock.now(), gateway.approvals.policy.suspend_overdue
    listed = await gateway.approvals.grants.list(args.client)
    found = [g for g in listed if not args.overdue or g.overdue(now)]
    rows = [
        (
            g.grant_id,
            g.client_id,
            g.scopes,
            g.resource or "any",
            g.status(now, suspend),
            when(g.expires_at),
            _review_by(g, now),
        )
        for g in found
    ]
    headers = ("id", "client", "scopes", "resource", "status", "expires", "review by")
    emit(args, [g.public_view(now, suspend) for g in found], table(headers, rows, "no grants"))
    return 0


async def _show(gateway: Gateway, args: argparse.Namespace) -> int:
    return _answer(gateway, args, await gateway.approvals.grants.get(args.grant_id))


async def _revoke(gateway: Gateway, args: argparse.Namespace) -> int:
    revoked = await gateway.approvals.grants.revoke(args.grant_id, operator_of(args), args.reason)
    return _answer(gateway, args, revoked, f"revoked {revoked.grant_id} ({' '.join(revoked.scopes)})")


async def _review(gateway: Gateway, args: argparse.Namespace) -> int:
    reviewed = await gateway.approvals.grants.review(args.grant_id, operator_of(args), args.note)
    text = f"re-certified {reviewed.grant_id}; next review: {when(reviewed.review_by)}"
    return _answer(gateway, args, reviewed, text)


HANDLERS: dict[tuple[str, str], Handler] = {
    ("grants", "list"): _list,
    ("grants", "show"): _show,
    ("grants", "revoke"): _revoke,
    ("grants", "review"): _review,
}
