"""``mcp-gateway tools review|approve|reject``: pending tool definitions (TP-5), through the pin
desk (:mod:`gateway.upstream.pin_desk`) the admin API calls too.

    mcp-gateway tools review [SERVER] [--json]        pending definitions, with a diff each
    mcp-gateway tools approve SERVER TOOL --hash H    pin it (H: the hash shown by review)
    mcp-gateway tools reject SERVER TOOL --hash H     keep it out while the upstream serves it

The operator acts as ``cli:<name>`` (``--as NAME``), a security admin (:mod:`gateway.cli.operator`).
A running gateway serves an approved definition at its next refresher pass (about a second).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gateway.cli.operator import add_operator_flags, operator_of
from gateway.cli.output import Handler, emit

if TYPE_CHECKING:
    from gateway.composition import Gateway


def add_actions(actions: Any) -> None:
    """The three actions, under ``tools``'s subcommand parsers."""
    review = actions.add_parser("review", help="pending tool definitions, with a diff against the pinned one")
    review.add_argument("server_id", nargs="?")
    for name, what in (("approve", "pin a pending definition"), ("reject", "reject a pending definition")):
        action = actions.add_parser(name, help=what)
        action.add_argument("server_id")
        action.add_argument("tool", help="the tool's name at its upstream")
        action.add_argument("--hash", required=True, help="the definition's hash, as review shows it")
    actions.choices["approve"].add_argument("--note", default="", help="for the record")
    actions.choices["reject"].add_argument("--reason", default="", help="for the record")
    add_operator_flags(actions, ("approve", "reject"))


async def _review(gateway: Gateway, args: argparse.Namespace) -> int:
    reviewed = await gateway.pins.review(args.server_id)
    views = [pending.public_view(diff) for pending, diff in reviewed]
    blocks = [_block(view) for view in views]
    emit(args, views, "\n\n".join(blocks) or "no tool definition waits for approval")
    return 0


def _block(view: dict[str, Any]) -> str:
    """One pending definition for the approver: what it is, then what screening flagged (each a
    line: the reason a policy never approved it, TP-7) and removed, then the diff."""
    kind = "changed" if view["previous_hash"] else "new"
    lines = [f"{view['server_id']}/{view['tool']} {kind} hash {view['hash']}"]
    lines += [f"  flagged: {flag}" for flag in view["flags"]]
    lines += [f"  removed: {removed}" for removed in view["removed"]]
    return "\n".join([*lines, view["diff"]])


async def _approve(gateway: Gateway, args: argparse.Namespace) -> int:
    pin = await gateway.pins.approve(args.server_id, args.tool, args.hash, operator_of(args), args.note)
    emit(args, pin.public_view(), f"approved {pin.server_id}/{pin.tool} ({pin.hash})")
    return 0


async def _reject(gateway: Gateway, args: argparse.Namespace) -> int:
    rejected = await gateway.pins.reject(args.server_id, args.tool, args.hash, operator_of(args), args.reason)
    emit(args, rejected.public_view(), f"rejected {rejected.server_id}/{rejected.tool} ({rejected.hash})")
    return 0


HANDLERS: dict[tuple[str, str], Handler] = {
    ("tools", "review"): _review,
    ("tools", "approve"): _approve,
    ("tools", "reject"): _reject,
}
