"""``mcp-gateway keys list|rotate``: the gateway's signing keys, both purposes (see
:mod:`gateway.signing_keys`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gateway.cli.operator import add_operator_flags, operator_of
from gateway.cli.output import Handler, add_json_flag, emit, table, when
from gateway.keys import PURPOSES

if TYPE_CHECKING:
    from gateway.composition import Gateway


def add_parser(commands: Any) -> None:
    keys = commands.add_parser("keys", help="manage signing keys").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser("list", help="the signing keys of both purposes and their states")
    rotate = keys.add_parser("rotate", help="publish a new key now; it signs after key_publish_lead seconds")
    rotate.add_argument(
        "--purpose",
        choices=(*PURPOSES, "all"),
        default="all",
        help="gateway (tokens the gateway accepts), downstream (tokens for upstreams), or all",
    )
    add_json_flag(keys.choices.values())
    add_operator_flags(keys, ("rotate",))


async def _list(gateway: Gateway, args: argparse.Namespace) -> int:
    await gateway.keys.ensure_keys()
    infos = [key.as_dict() for manager in gateway.keys.managers.values() for key in await manager.list_keys()]
    rows = [
        (i["purpose"], i["kid"], i["state"], when(i["activates_at"]), when(i["retires_at"])) for i in infos
    ]
    headers = ("purpose", "kid", "state", "signs from", "retires")
    emit(args, infos, table(headers, rows, "no signing keys"))
    return 0


async def _rotate(gateway: Gateway, args: argparse.Namespace) -> int:
    await gateway.keys.ensure_keys()
    by = operator_of(args).subject
    purposes = PURPOSES if args.purpose == "all" else (args.purpose,)
    infos = []
    for purpose in purposes:
        manager = gateway.keys.managers[purpose]
        before = [key.kid for key in await manager.list_keys()]
        info = (await manager.rotate()).as_dict()
        gateway.audit.record(
            "signing_key_rotated",
            outcome="rotated",
            by=by,
            purpose=purpose,
            kid=info["kid"],
            before={"kids": before},
            after={"kids": [*before, info["kid"]], "activates_at": info["activates_at"]},
        )
        infos.append(info)
    lines = [
        f"new {i['purpose']} key {i['kid']}: published now, signs from {when(i['activates_at'])}"
        for i in infos
    ]
    emit(args, infos if args.purpose == "all" else infos[0], "\n".join(lines))
    return 0


HANDLERS: dict[tuple[str, str], Handler] = {("keys", "list"): _list, ("keys", "rotate"): _rotate}
