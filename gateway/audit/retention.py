"""Retention: events older than ``audit_retention_days`` leave the trail, once every exporter has
delivered them (AU-5).

One pass (:meth:`Retention.step`, every :data:`INTERVAL` seconds under a supervisor) finds the
longest run of events, from the oldest kept, that may go: each one older than the retention, at or
before every configured exporter's position (``AuditStore.export_position``), and at or before
the last signed checkpoint, so that the point the retained trail starts from is always one a
checkpoint vouches for (``audit verify`` checks it against that checkpoint). With no exporter
configured nothing is delivered anywhere, and the pass deletes only when
``audit_prune_unexported`` says that is accepted; otherwise it logs once that it refuses.

Before deleting, it commits an ``audit_pruned`` event (how many events, through which sequence
number, after which) with ``durable``: the trail says what left it before it leaves, and
``audit verify`` expects that event for the point the trail now starts from. A pass deletes at
most :data:`MAX_PER_PASS` events (one transaction), so a first prune of a long trail is spread
over several passes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import anyio

from gateway.audit.log import AuditLog
from gateway.audit.store import AuditStore
from gateway.clock import Clock
from gateway.store import StoreUnavailable

DAY = 86_400
INTERVAL = 600.0
MAX_PER_PASS = 10_000
_PAGE = 1000
PRUNED_EVENT = "audit_pruned"

logger = logging.getLogger("mcp_gateway")


class Retention:
    def __init__(
        self,
        store: AuditStore,
        audit: AuditLog,
        clock: Clock,
        *,
        days: int,
        exporters: Sequence[str],
        prune_unexported: bool = False,
        wait: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        """``days``: how long events are kept (0: forever); ``exporters``: the names of every
        configured exporter, each of which must have delivered an event before it goes."""
        self._store = store
        self._audit = audit
        self._clock = clock
        self._days = days
        self._exporters = tuple(exporters)
        self._prune_unexported = prune_unexported
        self._wait = wait
        self._refusal_logged = False

    async def run(self) -> None:
        while True:
            with contextlib.suppress(StoreUnavailable):  # reported by the flusher; tried again
                await self.step()
            await self._wait(INTERVAL)

    async def step(self) -> int:
        """One pass; how many events it deleted."""
        if self._days <= 0:
            return 0
        delivered = await self._delivered_through()
        if delivered is None:
            return 0
        pruned = await self._store.pruned()
        last = await self._store.last_checkpoint()
        signed = last.seq if last is not None else 0
        cutoff = self._clock.now() - self._days * DAY
        through = await self._old_through(
            pruned.seq, min(delivered, signed, pruned.seq + MAX_PER_PASS), cutoff
        )
        through = await self._checkpointed_at_or_before(through, pruned.seq)
        if through <= pruned.seq:
            return 0
        await self._audit.durable(
            "audit_pruned", outcome="pruned", count=through - pruned.seq, through=through, after=pruned.seq
        )
        return await self._store.prune(through)

    async def _delivered_through(self) -> int | None:
        """The lowest position of the exporters; the head when deleting unexported events is
        accepted; none when nothing may go."""
        if self._exporters:
            return min([await self._store.export_position(name) for name in self._exporters])
        if self._prune_unexported:
            return (await self._store.head()).seq
        if not self._refusal_logged:
            self._refusal_logged = True
            logger.warning(
                "audit retention deletes nothing: no exporter is configured, and "
                "audit_prune_unexported is off (events would be deleted without a copy)"
            )
        return None

    async def _old_through(self, after: int, limit: int, cutoff: float) -> int:
        """The last of the events after ``after`` (up to ``limit``) that, with every one before
        it, is older than ``cutoff``."""
        through = after
        while through < limit:
            page = await self._store.read(through, min(_PAGE, limit - through))
            for stored in page:
                if stored.index.at >= cutoff:
                    return through
                through = stored.seq
            if not page:
                break
        return min(through, limit)

    async def _checkpointed_at_or_before(self, through: int, pruned: int) -> int:
        """The last checkpointed event at or before ``through`` (``pruned`` when none is)."""
        best, after = pruned, 0
        while page := await self._store.checkpoints(after, _PAGE):
            best = max([best, *(c.seq for c in page if c.seq <= through)])
            after = page[-1].number
        return best
