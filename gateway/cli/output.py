"""What every ``mcp-gateway`` management command shares: the handler type, ``--json``, and the
few answers they all give (a record shown, a table of records, a record removed, nothing found).

Text output is for people and reads like the tools they know (``kubectl get``): a table with an
upper-case header and columns aligned, dates as UTC dates. ``--json`` is for programs and is never
reshaped: the same records, times as epoch seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
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


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], empty: str) -> str:
    """Rows under upper-case headers, each column as wide as its widest cell; ``empty`` when none."""
    cells = [[_cell(value) for value in row] for row in rows]
    if not cells:
        return empty
    lines = [[header.upper() for header in headers], *cells]
    widths = [max(len(line[column]) for line in lines) for column in range(len(headers))]
    aligned = ("   ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines)
    return "\n".join(line.rstrip() for line in aligned)


def when(epoch_seconds: float | None) -> str:
    """A moment as people read it: ``2026-12-07 18:20:05 UTC`` (``-`` for none)."""
    if epoch_seconds is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch_seconds))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return " ".join(map(str, value)) or "-"
    return str(value)


def show(args: argparse.Namespace, view: Mapping[str, Any]) -> int:
    emit(args, view, "\n".join(f"{key}: {value}" for key, value in view.items()))
    return 0


def removed(args: argparse.Namespace, kind: str, name: str) -> int:
    emit(args, {"removed": name}, f"removed {kind} {name}")
    return 0


def not_found(kind: str, name: str) -> int:
    print(f"mcp-gateway: no {kind} {name!r}", file=sys.stderr)
    return 1
