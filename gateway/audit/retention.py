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
``audit verify`` expects that event for the point the trail now starts from. The record of a
checkpoint signing key (``audit_signing_key``) about to go is committed again first, so that the
checkpoints it signed that stay remain verifiable once the key is retired. A pass deletes at
most :data:`MAX_PER_PASS` events (one transaction), so a first prune of a long trail is spread
over several passes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import anyio

from gateway.audit.checkpoints import KEY_EVENT
from gateway.audit.log import AuditLog
from gateway.audit.store import AuditFilter, AuditStore, Checkpoint
from gateway.clock import Clock
from gateway.store import StoreUnavailable

DAY = 86_400
INTERVAL = 600.0
MAX_PER_PASS = 10_000
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
        young = await self._store.read(pruned.seq, 1, AuditFilter(since=self._clock.now() - self._days * DAY))
        limit = min(delivered, young[0].seq - 1 if young else delivered)
        through = await self._prune_point(pruned.seq, limit)
        if through <= pruned.seq:
            return 0
        await self._keep_key_records(pruned.seq, through)
        await self._audit.durable(
            "audit_pruned", outcome="pruned", count=through - pruned.seq, through=through, after=pruned.seq
        )
        if self._audit.trail is not None:  # written, whatever audit_when_unavailable says
            await self._audit.trail.flush()
        return await self._store.prune(through)

    async def _prune_point(self, pruned: int, limit: int) -> int:
        """The checkpointed event to prune through: the last one at or before ``limit`` and at most
        :data:`MAX_PER_PASS` events on, else the first one after ``pruned`` (checkpoints further
        apart than that); ``pruned`` when none is at or before ``limit``."""
        capped = await self._checkpoint_at_or_before(min(limit, pruned + MAX_PER_PASS))
        if capped is not None and capped.seq > pruned:
            return capped.seq
        before = await self._checkpoint_at_or_before(pruned)
        following = await self._store.checkpoints(before.number if before else 0, 1)
        return following[0].seq if following and pruned < following[0].seq <= limit else pruned

    async def _checkpoint_at_or_before(self, seq: int) -> Checkpoint | None:
        """The last checkpoint of an event at or before ``seq``: checkpoints are numbered without
        gaps and their events rise with their numbers, so a binary search over the numbers."""
        last = await self._store.last_checkpoint()
        found, low, high = None, 1, last.number if last is not None else 0
        while low <= high:
            middle = (low + high) // 2
            page = await self._store.checkpoints(middle - 1, 1)
            if not page or page[0].number != middle:
                return found  # a number missing: the trail was tampered with; verify names it
            if page[0].seq <= seq:
                found, low = page[0], middle + 1
            else:
                high = middle - 1
        return found

    async def _keep_key_records(self, pruned: int, through: int) -> None:
        """Record again, after the prune point, each checkpoint signing key whose only record is
        among the events about to go: a checkpoint it signed that stays must stay verifiable once
        the key is no longer published (``audit verify`` reads the records)."""
        records = await self._store.read(pruned, 10_000, AuditFilter(types=(KEY_EVENT,)))
        kept = {str(r.event().fields.get("kid")) for r in records if r.seq > through}
        going = {str(r.event().fields.get("kid")): r.event() for r in records if r.seq <= through}
        for kid, record in going.items():
            if kid not in kept:
                await self._audit.durable("audit_signing_key", outcome="recorded", **record.fields)

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
