"""What every ``mcp-gateway`` management command shares: the handler type, ``--json``, and the
few answers they all give (a record shown, a record removed, nothing found)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.composition import Gateway

Handler = Callable[["Gateway", argparse.Namespace], Awaitable[int]]
"""One action of one command: runs against the wired gateway, returns the exit code."""


def add_json_flag(parsers: Iterable[argparse.ArgumentParser]) -> None:
    for parser in parsers:
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else text)


def show(args: argparse.Namespace, view: Mapping[str, Any]) -> int:
    emit(args, view, "\n".join(f"{key}: {value}" for key, value in view.items()))
    return 0


def removed(args: argparse.Namespace, kind: str, name: str) -> int:
    emit(args, {"removed": name}, f"removed {kind} {name}")
    return 0


def not_found(kind: str, name: str) -> int:
    print(f"mcp-gateway: no {kind} {name!r}", file=sys.stderr)
    return 1
