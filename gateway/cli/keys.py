"""``mcp-gateway keys list|rotate``: the gateway's own signing keys (see :mod:`gateway.keys`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gateway.cli.output import Handler, add_json_flag, emit, table, when

if TYPE_CHECKING:
    from gateway.composition import Gateway


def add_parser(commands: Any) -> None:
    keys = commands.add_parser("keys", help="manage signing keys").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser("list", help="the signing keys and their states")
    keys.add_parser("rotate", help="publish a new key now; it signs after key_publish_lead seconds")
    add_json_flag(keys.choices.values())


async def _list(gateway: Gateway, args: argparse.Namespace) -> int:
    await gateway.keys.ensure_key()
    infos = [info.as_dict() for info in await gateway.keys.list_keys()]
    rows = [(i["kid"], i["state"], when(i["activates_at"]), when(i["retires_at"])) for i in infos]
    emit(args, infos, table(("kid", "state", "signs from", "retires"), rows, "no signing keys"))
    return 0


async def _rotate(gateway: Gateway, args: argparse.Namespace) -> int:
    await gateway.keys.ensure_key()
    info = (await gateway.keys.rotate()).as_dict()
    emit(args, info, f"new key {info['kid']} is published now and signs from {when(info['activates_at'])}")
    return 0


HANDLERS: dict[tuple[str, str], Handler] = {("keys", "list"): _list, ("keys", "rotate"): _rotate}
