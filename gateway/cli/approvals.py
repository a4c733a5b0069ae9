"""``mcp-gateway approvals list|show|approve|deny``: access requests, decided at the command line.

The commands call the request desk (:mod:`gateway.approvals.request_desk`) on the configured
store, as the admin API and the console do, so a decision made here reaches a running gateway at
once and obeys the same rules; who decides is :mod:`gateway.cli.operator`. ``--json`` prints the
admin API's own records (times as epoch seconds). Exit codes: 0 done, 1 no such request or the
store is down, 2 bad arguments or a decision the rules refuse (decided already, your own request).
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any

from gateway.approvals.requests import STATUSES, AccessRequest, Vote
from gateway.cli.operator import add_operator_flag, operator_of
from gateway.cli.output import Handler, add_json_flag, emit, table, when

if TYPE_CHECKING:
    from gateway.composition import Gateway

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SPAN = re.compile(r"(?:[0-9]{1,7}[smhdw])+")


def add_parser(commands: Any) -> None:
    approvals = commands.add_parser("approvals", help="decide access requests")
    actions = approvals.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list access requests, oldest first")
    listing.add_argument("--status", choices=STATUSES, help="only requests in this status")
    actions.add_parser("show", help="show a request and what its client holds").add_argument("request_id")
    approve = actions.add_parser("approve", help="approve a request, or a narrower part of it")
    approve.add_argument("request_id")
    approve.add_argument(
        "--scope", action="append", default=[], help="grant only this scope (repeatable; default: all)"
    )
    approve.add_argument("--resource", help="the requested resource or a path under it")
    length = approve.add_mutually_exclusive_group()
    length.add_argument("--duration", type=int, metavar="SECONDS", help="how long (default: as asked)")
    length.add_argument("--for", dest="span", metavar="SPAN", help="how long, as 90m, 1h, 2d, 1w or 1d12h")
    approve.add_argument("--note", default="", help="why, for the record")
    deny = actions.add_parser("deny", help="deny a request; the agent reads the reason")
    deny.add_argument("request_id")
    deny.add_argument("--reason", required=True)
    for parser in (approve, deny):
        add_operator_flag(parser)
    add_json_flag(actions.choices.values())


def seconds_in(span: str) -> int:
    """``1h`` -> 3600, ``1d12h`` -> 129600; :class:`ValueError` for anything else.

    >>> seconds_in("90m"), seconds_in("1d12h")
    (5400, 129600)
    """
    if not SPAN.fullmatch(span):
        raise ValueError(f"--for takes a span such as 90m, 1h, 2d or 1d12h, not {span!r}")
    seconds = sum(int(n) * UNITS[unit] for n, unit in re.findall(r"([0-9]+)([smhdw])", span))
    if seconds <= 0:
        raise ValueError("--for must be longer than nothing")
    return seconds


def _vote(vote: Vote) -> str:
    note = f": {vote.note}" if vote.note else ""
    return f"{vote.approver} at {when(vote.at)} for {' '.join(vote.scopes)} ({vote.duration} s){note}"


def describe(request: AccessRequest, now: float, held: tuple[str, ...]) -> str:
    """A request as a person reads it: one ``name: value`` line each, dates in UTC."""
    lines = {
        "id": request.request_id,
        "status": request.current_status(now),
        "client": request.client_id,
        "person": request.subject or "-",
        "scopes": " ".join(request.scopes),
        "resource": request.resource,
        "justification": request.justification or "-",
        "duration asked": f"{request.duration} s",
        "origin": request.origin,
        "created": when(request.created_at),
        "waits until": when(request.expires_at),
        "approvers needed": f"{request.approvers_required} ({request.approver_role})",
        "approvals": "; ".join(_vote(v) for v in request.votes) or "-",
        "decided": when(request.decided_at),
        "decided by": " ".join(request.decided_by) or "-",
        "grant": request.grant_id or "-",
        "granted scopes": " ".join(request.granted_scopes) or "-",
        "granted until": when(request.granted_until),
        "reason": request.reason or "-",
        "client holds now": " ".join(held) or "-",
    }
    return "\n".join(f"{name}: {value}" for name, value in lines.items())


async def _detail(gateway: Gateway, request: AccessRequest) -> tuple[dict[str, Any], str]:
    """The admin API's view of ``request`` (with what its client holds now) and its text."""
    held = await gateway.approvals.grants.held(request.client_id)
    now = gateway.clock.now()
    return request.public_view(now) | {"held_scopes": list(held)}, describe(request, now, held)


async def _list(gateway: Gateway, args: argparse.Namespace) -> int:
    found = await gateway.approvals.requests.list(args.status)
    now = gateway.clock.now()
    rows = [
        (
            r.request_id,
            r.current_status(now),
            r.client_id,
            r.scopes,
            r.resource,
            f"{len(r.votes)}/{r.approvers_required}",
            when(r.created_at),
        )
        for r in found
    ]
    headers = ("id", "status", "client", "scopes", "resource", "approvals", "created")
    emit(args, [r.public_view(now) for r in found], table(headers, rows, "no access requests"))
    return 0


async def _show(gateway: Gateway, args: argparse.Namespace) -> int:
    data, text = await _detail(gateway, await gateway.approvals.requests.get(args.request_id))
    emit(args, data, text)
    return 0


async def _approve(gateway: Gateway, args: argparse.Namespace) -> int:
    by = operator_of(args)
    duration = seconds_in(args.span) if args.span is not None else args.duration
    approved = await gateway.approvals.requests.approve(
        args.request_id,
        by,
        scopes=args.scope or None,
        resource=args.resource,
        duration=duration,
        note=args.note,
    )
    data, _ = await _detail(gateway, approved)
    if approved.status == "approved":
        scopes = " ".join(approved.granted_scopes)
        text = f"approved {approved.request_id}: grant {approved.grant_id} ({scopes}) until "
        text += when(approved.granted_until)
    else:
        waiting = approved.approvers_required - len(approved.votes)
        text = f"recorded the approval of {approved.request_id} by {by.subject}; it waits for {waiting} more"
    emit(args, data, text)
    return 0


async def _deny(gateway: Gateway, args: argparse.Namespace) -> int:
    denied = await gateway.approvals.requests.deny(args.request_id, operator_of(args), args.reason)
    data, _ = await _detail(gateway, denied)
    emit(args, data, f"denied {denied.request_id}: {denied.reason}")
    return 0


HANDLERS: dict[tuple[str, str], Handler] = {
    ("approvals", "list"): _list,
    ("approvals", "show"): _show,
    ("approvals", "approve"): _approve,
    ("approvals", "deny"): _deny,
}
