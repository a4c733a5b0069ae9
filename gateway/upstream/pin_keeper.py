"""What discovery does with each tool definition it finds, against the pins of the store (TP-2,
TP-3): the approved hash of every tool, which the catalogue then serves and nothing else.

For each tool of one server's answer, :func:`tools_registry.pins.settle` decides by the server's
``pinning`` policy and the flags screening gave the tool when the catalogue read it (a flagged
definition always waits for a person, TP-7): a pinned hash is served; a definition policy approves
is pinned now (``tool_approved`` by ``policy:<pinning>``); any other definition is recorded as
pending once (``tool_pending``) and held until a security admin decides it
(:mod:`gateway.upstream.pin_desk`). A pinned tool whose definition changed is also
``tool_changed``. Each event is written once per state change: a definition already pending (or
rejected) under the same hash is not announced again on the next refresh. The pins are read on
every discovery, so a decision taken at another replica reaches this one at its next discovery.

A pin made by policy (``policy:first-use``, ``policy:trusted``) is re-judged at each discovery
(TP-9): no person saw that definition, only screening did, and screening learns (a pin made before
it existed, or before its patterns changed). When the definition it pinned is flagged now, the
pin is withdrawn and the definition held for a person as if it had just changed (``tool_changed``
held, ``tool_pending`` with the flags). A pin a person approved stays: the person read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.upstream.pin_records import PendingDefinition, Pin, PinBook
from gateway.webhooks import Announcer
from tools_registry.pins import settle
from tools_registry.servers import UpstreamServer
from tools_registry.tool_entries import CatalogTool

POLICY = "policy:"
"""How a pin approved by a server's ``pinning`` policy, not by a person, names its approver."""


def pin_facts(server_id: str, tool: str, definition_hash: str, previous: str | None) -> dict[str, Any]:
    """What every pinning event says: the tool, its definition's hash and the one pinned before."""
    return {"server": server_id, "tool": tool, "hash": definition_hash, "previous_hash": previous}


class PinKeeper:
    """Settles one server's discovered tools into pins and pending definitions."""

    def __init__(
        self,
        book: PinBook,
        *,
        clock: Clock,
        audit: AuditLog,
        announcer: Announcer,
    ) -> None:
        self._book = book
        self._clock = clock
        self._audit = audit
        self._announcer = announcer

    async def settle(self, server: UpstreamServer, tools: Mapping[str, CatalogTool]) -> dict[str, str]:
        """The approved definition hash of each tool of ``server`` (upstream name -> hash), once the
        definitions found now are pinned or recorded as pending."""
        # The mark first, the pins after: another replica's first discovery pins every tool before
        # it marks the server settled, so a mark read here means its pins are all read below. Read
        # the other way round, a replica could see some of them, then the mark, and hold as new
        # what the other had just pinned (until its next refresh).
        first = not await self._book.settled(server.id)
        pins = await self._book.pins(server.id)
        pending = {p.tool: p for p in await self._book.pending(server.id)}
        approved = {name: pin.hash for name, pin in pins.items()}
        for name, tool in tools.items():
            pin = pins.get(name)
            outcome = settle(
                server.pinning,
                first_discovery=first,
                pinned_hash=pin.hash if pin is not None else None,
                current_hash=tool.definition_hash,
                flags=tool.flags,
            )
            waiting = pending.get(name)
            if outcome == "pinned" and pin is not None and _withdrawn(pin, tool):
                del approved[name]
                await self._hold(server, tool, pin)
                await self._book.drop_pin(server.id, name)
            elif outcome == "pinned":
                if waiting is not None and waiting.status == "pending":
                    await self._book.drop_pending(server.id, name)  # the upstream went back
            elif outcome == "pin":
                approved[name] = await self._pin_by_policy(server, tool, pin, waiting is not None)
            elif waiting is None or waiting.hash != tool.definition_hash:
                await self._hold(server, tool, pin)
        if first:
            await self._book.mark_settled(server.id, self._clock.now())
        await self._book.unmark_orphaned(server.id)  # a replica that has it registered (TP-10)
        return approved

    async def _pin_by_policy(
        self, server: UpstreamServer, tool: CatalogTool, pin: Pin | None, was_pending: bool
    ) -> str:
        by = f"{POLICY}{server.pinning}"
        new = Pin(server.id, tool.upstream_name, tool.definition_hash, tool.definition, by, self._clock.now())
        await self._book.put_pin(new)
        if was_pending:
            await self._book.drop_pending(server.id, tool.upstream_name)
        previous = pin.hash if pin is not None else None
        facts = pin_facts(server.id, tool.upstream_name, tool.definition_hash, previous)
        if pin is not None:
            self._audit.record("tool_changed", outcome="approved", **facts)
            await self._announce("tool.changed", "approved", facts)
        self._audit.record("tool_approved", outcome="approved", by=by, **facts)
        await self._announce("tool.approved", "approved", facts | {"by": by})
        return new.hash

    async def _hold(self, server: UpstreamServer, tool: CatalogTool, pin: Pin | None) -> None:
        previous = pin.hash if pin is not None else None
        record = PendingDefinition(
            server.id,
            tool.upstream_name,
            tool.definition_hash,
            tool.definition,
            previous,
            self._clock.now(),
            tool.flags,
            tool.removed,
        )
        await self._book.put_pending(record)
        facts = pin_facts(server.id, tool.upstream_name, tool.definition_hash, previous)
        if pin is not None:
            self._audit.record("tool_changed", outcome="held", **facts)
            await self._announce("tool.changed", "held", facts)
        self._audit.record("tool_pending", outcome="pending", flags=list(tool.flags), **facts)
        await self._announce("tool.pending", "pending", facts | {"flags": list(tool.flags)})

    async def _announce(self, event: str, outcome: str, facts: dict[str, Any]) -> None:
        await self._announcer.announce(event, facts | {"outcome": outcome})


def _withdrawn(pin: Pin, tool: CatalogTool) -> bool:
    """TP-9: a policy's pin of a definition screening flags now no longer stands."""
    return bool(tool.flags) and pin.approved_by.startswith(POLICY)


__all__ = ["POLICY", "PinKeeper", "pin_facts"]
