"""Pinned and pending tool definitions, as durable records of the store (TP-2), so every replica
reads the same pins.

    tool_pins        <server>/<tool>  the approved definition: hash, definition, who, when
    tool_pending     <server>/<tool>  the latest definition not pinned: pending, or rejected
    tool_pin_servers <server>         the server's first discovery was settled (first-use is spent)
    tool_pin_orphans <server>         no registration was seen for it since (TP-10)

Server ids have no ``/`` and tool names are ``[A-Za-z0-9_.-]``, so ``<server>/<tool>`` is one id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from gateway.store import Store

PINS = "tool_pins"
PENDING = "tool_pending"
SETTLED_SERVERS = "tool_pin_servers"
ORPHANS = "tool_pin_orphans"

PendingStatus = Literal["pending", "rejected"]


def record_id(server_id: str, tool: str) -> str:
    return f"{server_id}/{tool}"


@dataclass(frozen=True)
class Pin:
    """The approved definition of one tool: only a definition of this hash is served."""

    server_id: str
    tool: str
    """The tool's name at its upstream."""
    hash: str
    definition: Mapping[str, Any]
    approved_by: str
    """Who approved: ``cli:<name>`` or an admin token's subject, or ``policy:<pinning>``."""
    approved_at: float

    def public_view(self) -> dict[str, Any]:
        return asdict(self) | {"definition": dict(self.definition)}


@dataclass(frozen=True)
class PendingDefinition:
    """A definition seen at discovery that is not pinned: a new tool or a changed one."""

    server_id: str
    tool: str
    hash: str
    definition: Mapping[str, Any]
    previous_hash: str | None
    """The hash pinned when it was seen: None for a new tool."""
    first_seen_at: float
    flags: tuple[str, ...] = ()
    """What screening flagged in it: a flagged definition is never approved by policy (TP-7)."""
    removed: tuple[str, ...] = ()
    """What screening removed from its text (invisible characters, TS-3): agents see it without."""
    status: PendingStatus = "pending"
    decided_by: str | None = None
    decided_at: float | None = None
    reason: str = ""

    def rejected(self, by: str, at: float, reason: str) -> PendingDefinition:
        return replace(self, status="rejected", decided_by=by, decided_at=at, reason=reason)

    def public_view(self, diff: str = "") -> dict[str, Any]:
        view = asdict(self) | {"definition": dict(self.definition)}
        view |= {"flags": list(self.flags), "removed": list(self.removed)}
        return view | {"diff": diff}


class PinBook:
    """The pin records in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def pins(self, server_id: str) -> dict[str, Pin]:
        """The pins of one server, by tool name."""
        found = await self._of(PINS, server_id)
        return {tool: Pin(**value) for tool, value in found.items()}

    async def pin(self, server_id: str, tool: str) -> Pin | None:
        value = await self.store.get_record(PINS, record_id(server_id, tool))
        return Pin(**json.loads(value)) if value is not None else None

    async def put_pin(self, pin: Pin) -> None:
        await self.store.put_record(PINS, record_id(pin.server_id, pin.tool), _json(pin.public_view()))

    async def drop_pin(self, server_id: str, tool: str) -> None:
        """Withdraw a pin (a policy's, of a definition screening flags now: TP-9)."""
        await self.store.delete_record(PINS, record_id(server_id, tool))

    async def pending(self, server_id: str | None = None) -> list[PendingDefinition]:
        """Pending and rejected definitions (of one server, or all), by server then tool."""
        records = await self.store.list_records(PENDING)
        found = [_pending(value) for key, value in sorted(records.items())]
        return [p for p in found if server_id is None or p.server_id == server_id]

    async def pending_of(self, server_id: str, tool: str) -> PendingDefinition | None:
        value = await self.store.get_record(PENDING, record_id(server_id, tool))
        return _pending(value) if value is not None else None

    async def put_pending(self, pending: PendingDefinition) -> None:
        view = pending.public_view()
        view.pop("diff")
        await self.store.put_record(PENDING, record_id(pending.server_id, pending.tool), _json(view))

    async def drop_pending(self, server_id: str, tool: str) -> None:
        await self.store.delete_record(PENDING, record_id(server_id, tool))

    async def forget_server(self, server_id: str) -> None:
        """Forget every pin and pending definition of a removed server, and its first-use mark
        (TP-8): the same id registered again is a new registration."""
        for collection in (PINS, PENDING):
            for tool in await self._of(collection, server_id):
                await self.store.delete_record(collection, record_id(server_id, tool))
        await self.store.delete_record(SETTLED_SERVERS, server_id)
        await self.store.delete_record(ORPHANS, server_id)

    async def servers(self) -> set[str]:
        """The ids of every server that has a pin record of any kind."""
        ids = {key.split("/", 1)[0] for c in (PINS, PENDING) for key in await self.store.list_records(c)}
        return ids | set(await self.store.list_records(SETTLED_SERVERS))

    async def orphaned_since(self, server_id: str) -> float | None:
        """When a server with pin records was first found registered nowhere (TP-10); None: it
        was not, or it was seen registered (discovered) since."""
        value = await self.store.get_record(ORPHANS, server_id)
        return float(json.loads(value)["since"]) if value is not None else None

    async def mark_orphaned(self, server_id: str, at: float) -> None:
        await self.store.put_record(ORPHANS, server_id, _json({"since": at}))

    async def unmark_orphaned(self, server_id: str) -> None:
        """The server is registered after all (it is being discovered): its pins are kept."""
        await self.store.delete_record(ORPHANS, server_id)

    async def settled(self, server_id: str) -> bool:
        """Whether the server's first discovery was settled already (first-use is spent)."""
        return await self.store.get_record(SETTLED_SERVERS, server_id) is not None

    async def mark_settled(self, server_id: str, at: float) -> None:
        await self.store.put_record(SETTLED_SERVERS, server_id, _json({"settled_at": at}))

    async def _of(self, collection: str, server_id: str) -> dict[str, dict[str, Any]]:
        prefix = server_id + "/"
        records = await self.store.list_records(collection)
        return {key[len(prefix) :]: json.loads(v) for key, v in records.items() if key.startswith(prefix)}


def _pending(value: str) -> PendingDefinition:
    data = json.loads(value)
    listed = {member: tuple(data.get(member, ())) for member in ("flags", "removed")}
    return PendingDefinition(**data | listed)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


__all__ = [
    "ORPHANS",
    "PENDING",
    "PINS",
    "SETTLED_SERVERS",
    "PendingDefinition",
    "Pin",
    "PinBook",
    "record_id",
]
