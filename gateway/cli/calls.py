"""``mcp-gateway calls list|show|approve|deny``: tool calls held for approval (AP-6).

The CLI works on the same store as a running gateway, so an approval here lets the agent's next
identical call pass at once. Whoever runs it has the store, so acts as a ``security-admin``; each
decision names the person deciding (``--as``), which the rules check: never the agent that made the
call, never the person it was made for, unless policy makes that person the approver
(``call_approver = "person"``), and then only them. Exit codes: 0 done, 1 no such call or the store
is down, 2 bad arguments or a decision the rules refuse.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from gateway.approvals.call_desk import SECURITY_ADMIN
from gateway.approvals.decisions import Principal
from gateway.approvals.held_calls import CALL_STATUSES, HeldCall
from gateway.cli.output import Handler, add_json_flag, emit, not_found, table, when
from gateway.errors import NotFound, OAuthError

if TYPE_CHECKING:
    from gateway.composition import Gateway

KIND = "held call"


def add_parser(commands: Any) -> None:
    calls = commands.add_parser("calls", help="review tool calls held for approval")
    actions = calls.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list held calls")
    listing.add_argument("--status", choices=CALL_STATUSES, help="only the calls in this status")
    actions.add_parser("show", help="show a held call and its exact arguments").add_argument("call_id")
    approve = actions.add_parser("approve", help="let the same call pass once")
    approve.add_argument("call_id")
    approve.add_argument("--as", dest="subject", required=True, help="who approves (recorded)")
    approve.add_argument("--note", default="", help="why, for the record")
    deny = actions.add_parser("deny", help="refuse the call; the agent is told the reason")
    deny.add_argument("call_id")
    deny.add_argument("--as", dest="subject", required=True, help="who denies (recorded)")
    deny.add_argument("--reason", required=True, help="told to the agent")
    add_json_flag(actions.choices.values())


def _lines(call: HeldCall, view: dict[str, Any]) -> str:
    return "\n".join(
        (
            f"id: {call.call_id}",
            f"status: {view['status']}",
            f"tool: {call.tool} ({call.upstream_name} at {call.server_id})",
            f"arguments: {call.arguments}",
            f"client: {call.client_id}",
            f"subject: {call.subject}",
            f"actors: {' '.join(call.actor_chain) or '-'}",
            f"held because: {call.held_because}",
            f"approver: {call.person if call.approver == 'person' else SECURITY_ADMIN}",
            f"created: {when(call.created_at)}",
            f"expires: {when(call.expires_at)}",
            f"decided: {when(call.decided_at)} by {call.decided_by or '-'}",
            f"reason: {call.reason or '-'}",
            f"fingerprint: {call.fingerprint}",
        )
    )


async def _list(gateway: Gateway, args: argparse.Namespace) -> int:
    now = gateway.clock.now()
    calls = await gateway.approvals.calls.list(args.status)
    rows = [
        (c.call_id, c.current_status(now), c.tool, c.client_id, c.subject, when(c.expires_at)) for c in calls
    ]
    text = table(("id", "status", "tool", "client", "subject", "expires"), rows, "no held calls")
    emit(args, [c.public_view(now) for c in calls], text)
    return 0


async def _show(gateway: Gateway, args: argparse.Namespace) -> int:
    call = await gateway.approvals.calls.book.get(args.call_id)
    if call is None:
        return not_found(KIND, args.call_id)
    view = call.public_view(gateway.clock.now())
    emit(args, view, _lines(call, view))
    return 0


async def _approve(gateway: Gateway, args: argparse.Namespace) -> int:
    by = Principal(args.subject, (SECURITY_ADMIN,))
    return await _decided(gateway, args, gateway.approvals.calls.approve(args.call_id, by, note=args.note))


async def _deny(gateway: Gateway, args: argparse.Namespace) -> int:
    by = Principal(args.subject, (SECURITY_ADMIN,))
    return await _decided(gateway, args, gateway.approvals.calls.deny(args.call_id, by, args.reason))


async def _decided(gateway: Gateway, args: argparse.Namespace, decision: Awaitable[HeldCall]) -> int:
    try:
        call = await decision
    except NotFound:
        return not_found(KIND, args.call_id)
    except OAuthError as exc:
        print(f"mcp-gateway: {exc.description}", file=sys.stderr)
        return 2
    view = call.public_view(gateway.clock.now())
    emit(args, view, f"{view['status']} {KIND} {call.call_id}\n{_lines(call, view)}")
    return 0


HANDLERS: dict[tuple[str, str], Handler] = {
    ("calls", "list"): _list,
    ("calls", "show"): _show,
    ("calls", "approve"): _approve,
    ("calls", "deny"): _deny,
}
