"""Deciding pending tool definitions (TP-5): the one place the CLI (``mcp-gateway tools review|
approve|reject``) and the admin API (``/admin/api/v1/tools/pending``) call.

* :meth:`PinDesk.review`: the pending definitions, each with a unified diff of its JSON against
  the pinned one (none for a new tool);
* :meth:`PinDesk.approve`: pins the definition, serves it here at once and asks every replica to
  discover again (they serve it at their next refresher pass, about a second);
* :meth:`PinDesk.reject`: the definition stays out of the catalogue while the upstream serves it
  (``tool.quarantined``); a different definition later is pending again.

Only the ``security-admin`` role decides (a tool author registers the servers whose tools are
reviewed, and never approves them: no self-approval). The caller names the hash it reviewed: a
definition that changed again since then is refused (409) rather than approved unseen.
"""

from __future__ import annotations

from gateway.approvals.decisions import MAX_NOTE, Principal, checked_text
from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.errors import Conflict, Forbidden, NotFound
from gateway.store import Store
from gateway.upstream.pin_keeper import pin_facts
from gateway.upstream.pin_records import PendingDefinition, Pin, PinBook
from gateway.upstream.refresh_requests import ask_every_replica
from gateway.webhooks import Announcer
from tools_registry.catalog import Catalog
from tools_registry.pins import definition_diff

DECIDER = "security-admin"


class PinDesk:
    def __init__(
        self,
        book: PinBook,
        catalog: Catalog,
        store: Store,
        *,
        clock: Clock,
        audit: AuditLog,
        announcer: Announcer,
    ) -> None:
        self._book = book
        self._catalog = catalog
        self._store = store
        self._clock = clock
        self._audit = audit
        self._announcer = announcer

    async def review(self, server_id: str | None = None) -> list[tuple[PendingDefinition, str]]:
        """The definitions waiting for a decision, each with its diff against the pinned one."""
        waiting = [p for p in await self._book.pending(server_id) if p.status == "pending"]
        reviewed = []
        for pending in waiting:
            pin = await self._book.pin(pending.server_id, pending.tool)
            label = f"{pending.server_id}/{pending.tool}"
            reviewed.append(
                (pending, definition_diff(pin.definition if pin else None, pending.definition, label))
            )
        return reviewed

    async def approve(
        self, server_id: str, tool: str, definition_hash: str, by: Principal, note: str = ""
    ) -> Pin:
        note = checked_text(note, "note", MAX_NOTE)
        try:
            pending = await self._decidable(server_id, tool, definition_hash, by)
        except (Forbidden, Conflict) as exc:
            self._audit.record(
                "tool_approved",
                outcome="refused",
                reason=str(exc),
                **_asked(server_id, tool, definition_hash, by),
            )
            raise
        pin = Pin(server_id, tool, pending.hash, pending.definition, by.subject, self._clock.now())
        await self._book.put_pin(pin)
        await self._book.drop_pending(server_id, tool)
        facts = pin_facts(server_id, tool, pending.hash, pending.previous_hash) | {"by": by.subject}
        await self._audit.durable("tool_approved", outcome="approved", note=note, **facts)
        await self._announcer.announce("tool.approved", facts | {"outcome": "approved"})
        self._catalog.approve(server_id, tool, pending.hash)
        await ask_every_replica(self._store, server_id)
        return pin

    async def reject(
        self, server_id: str, tool: str, definition_hash: str, by: Principal, reason: str = ""
    ) -> PendingDefinition:
        reason = checked_text(reason, "reason", MAX_NOTE)
        try:
            pending = await self._decidable(server_id, tool, definition_hash, by)
        except (Forbidden, Conflict) as exc:
            self._audit.record(
                "tool_quarantined",
                outcome="refused",
                reason=str(exc),
                **_asked(server_id, tool, definition_hash, by),
            )
            raise
        rejected = pending.rejected(by.subject, self._clock.now(), reason)
        await self._book.put_pending(rejected)
        facts = pin_facts(server_id, tool, pending.hash, pending.previous_hash) | {"by": by.subject}
        await self._audit.durable("tool_quarantined", outcome="rejected", reason=reason, **facts)
        await self._announcer.announce("tool.quarantined", facts | {"outcome": "rejected"})
        return rejected

    async def _decidable(
        self, server_id: str, tool: str, definition_hash: str, by: Principal
    ) -> PendingDefinition:
        """TP-5: the decider holds the role, the definition is pending, and it is the one reviewed."""
        if DECIDER not in by.roles:
            raise Forbidden(f"deciding a tool definition needs the {DECIDER} role")
        pending = await self._book.pending_of(server_id, tool)
        if pending is None:
            raise NotFound(f"no definition of tool {tool!r} of server {server_id!r} waits for a decision")
        if pending.status != "pending":
            raise Conflict(f"the definition of tool {tool!r} was {pending.status} already")
        if pending.hash != definition_hash:
            raise Conflict(
                f"the pending definition of tool {tool!r} is {pending.hash}, not {definition_hash}: "
                "it changed since it was reviewed; review it again"
            )
        return pending


def _asked(server_id: str, tool: str, definition_hash: str, by: Principal) -> dict[str, str]:
    return {"server": server_id, "tool": tool, "hash": definition_hash, "by": by.subject}


__all__ = ["DECIDER", "PinDesk"]
