"""``mcp-gateway calls list|show|approve|deny``: tool calls held for approval (AP-6).

The CLI works on the same store as a running gateway, so an approval here lets the agent's next
identical call pass at once. Who decides is the operator of :mod:`gateway.cli.operator`, as for
``approvals`` and ``grants``: ``cli:<name>`` (``--as NAME``, else ``$USER``) holding
``security-admin`` and ``auditor``. The call desk's rules apply to that name: never the agent that
made the call, never the person it was made for. When policy makes the person the approver
(``call_approver = "person"``), the operator is not that person: approving is refused with a line
saying the person approves in the console, at the call's page; denying stays open to the operator,
as to every security admin. Exit codes: 0 done, 1 no such call or the store is down, 2 bad
arguments or a decision the rules refuse.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from gateway.approvals.call_desk import SECURITY_ADMIN
from gateway.approvals.held_calls import CALL_STATUSES, HeldCall
from gateway.cli.operator import add_operator_flag, operator_of
from gateway.cli.output import Handler, add_json_flag, emit, not_found, table, when
from gateway.errors import Forbidden, NotFound

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
    approve.add_argument("--note", default="", help="why, for the record")
    deny = actions.add_parser("deny", help="refuse the call; the agent is told the reason")
    deny.add_argument("call_id")
    deny.add_argument("--reason", required=True, help="told to the agent")
    for parser in (approve, deny):
        add_operator_flag(parser)
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
    desk = gateway.approvals.calls
    try:
        return await _decided(gateway, args, desk.approve(args.call_id, operator_of(args), note=args.note))
    except Forbidden as exc:
        call = await desk.get(args.call_id)
        if call.approver != "person":
            raise
        raise Forbidden(
            f"{exc.description}; {call.person} approves it in the console, at {desk.page_of(call.call_id)}"
        ) from None


async def _deny(gateway: Gateway, args: argparse.Namespace) -> int:
    decision = gateway.approvals.calls.deny(args.call_id, operator_of(args), args.reason)
    return await _decided(gateway, args, decision)


async def _decided(gateway: Gateway, args: argparse.Namespace, decision: Awaitable[HeldCall]) -> int:
    """A refusal other than a missing call reaches ``main``, which prints it and exits 2."""
    try:
        call = await decision
    except NotFound:
        return not_found(KIND, args.call_id)
    view = call.public_view(gateway.clock.now())
    emit(args, view, f"{view['status']} {KIND} {call.call_id}\n{_lines(call, view)}")
    return 0


HANDLERS: dict[tuple[str, str], Handler] = {
    ("calls", "list"): _list,
    ("calls", "show"): _show,
    ("calls", "approve"): _approve,
    ("calls", "deny"): _deny,
}
