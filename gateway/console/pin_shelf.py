"""What the console reads of the pin book (TP-2): pins and pending definitions, never a change.

:class:`~gateway.upstream.pin_desk.PinDesk` decides, and its :meth:`review` lists only the
definitions still pending; the console's pages also show what was rejected (quarantined) and what
is pinned per server, so this shelf reads those records through the same
:class:`~gateway.upstream.pin_records.PinBook` the desk and discovery use. It has no method that
writes: every decision the console takes goes through the desk, so it is audited and announced
exactly as the CLI's and the admin API's (TP-5, TP-6).

Screening's findings (``flags``, and ``removed``: the invisible characters cleaned) are read with
:func:`screening_notes`, which accepts every shape a record may carry them in (plain text, a
``Flag``, a mapping) and records that predate them, so the pages never depend on one layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.upstream.pin_records import PendingDefinition, Pin, PinBook


@dataclass(frozen=True)
class ScreeningNotes:
    """Why a person must look (``flags``: field and reason) and what screening cleaned."""

    flags: tuple[tuple[str, str], ...] = ()
    removed: tuple[str, ...] = ()


def screening_notes(pending: PendingDefinition) -> ScreeningNotes:
    """The flags and removals a pending record carries, or none when it carries none."""
    flags = tuple(_flag(found) for found in _many(getattr(pending, "flags", ())))
    removed = tuple(str(line) for line in _many(getattr(pending, "removed", ())))
    return ScreeningNotes(flags, removed)


def _many(value: Any) -> tuple[Any, ...]:
    if value is None or isinstance(value, str | bytes | Mapping):
        return (value,) if value else ()
    try:
        return tuple(value)
    except TypeError:
        return (value,)


def _flag(found: Any) -> tuple[str, str]:
    """``(field, reason)`` of one flag: an empty field when the record names none."""
    if isinstance(found, Mapping):
        return str(found.get("field") or found.get("path") or ""), str(found.get("reason") or found)
    reason = getattr(found, "reason", None)
    if reason is not None:
        return str(getattr(found, "field", "") or ""), str(reason)
    return "", str(found)


class PinShelf:
    """Read-only access to the pin records the console shows."""

    def __init__(self, book: PinBook) -> None:
        self._book = book

    async def waiting(self) -> tuple[list[PendingDefinition], list[PendingDefinition]]:
        """Definitions waiting for a decision, then those rejected (quarantined): oldest first."""
        found = sorted(await self._book.pending(), key=lambda p: (p.first_seen_at, p.server_id, p.tool))
        return [p for p in found if p.status == "pending"], [p for p in found if p.status != "pending"]

    async def of_server(self, server_id: str) -> tuple[dict[str, Pin], dict[str, PendingDefinition]]:
        """The server's pins and its pending (or rejected) definitions, by upstream tool name."""
        pending = {p.tool: p for p in await self._book.pending(server_id)}
        return await self._book.pins(server_id), pending

    async def one(self, server_id: str, tool: str) -> tuple[PendingDefinition | None, Pin | None]:
        """The latest definition of the tool that is not pinned, and the pin it would replace."""
        return await self._book.pending_of(server_id, tool), await self._book.pin(server_id, tool)


__all__ = ["PinShelf", "ScreeningNotes", "screening_notes"]
