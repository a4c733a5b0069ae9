"""Getting events into the durable trail: a bounded buffer, a flusher, and commits on demand.

``AuditLog.record`` only puts the event in the buffer (memory, no I/O); the flusher (:meth:`run`,
under a :class:`~gateway.background.Supervisor`) writes what is buffered every
:data:`FLUSH_INTERVAL` seconds, in batches, and :meth:`close` writes the rest at shutdown.
``AuditLog.durable`` puts its event in the same buffer and writes the buffer up to it before it
returns (:meth:`commit`), so the trail keeps the order events were made in, and the events of many
callers waiting at once go into one commit.

When the store does not answer, the events stay in the buffer, in order, and are written once it
answers again; what ``durable`` does meanwhile is the policy (``audit_when_unavailable``):

* ``fail_closed`` (the default): it raises :class:`~gateway.audit.store.AuditUnavailable`, so the
  decision it records is not given (503). Its event stays buffered: the trail may later hold a
  token its client never received, never the reverse.
* ``buffer``: it returns, its event kept in memory like the others.

The buffer is bounded (``audit_buffer_events``). Full, ``durable`` fails closed under either
policy, and ``record`` keeps the event in the log line only; once there is room the trail records
how many events it missed (``audit_events_dropped``) where they would have been.

What a crash loses: the events not yet written, at most :data:`FLUSH_INTERVAL` seconds of
``record`` events while the store answers, everything buffered while it does not. Every event is in
the log lines as well. An event ``durable`` returned for under ``fail_closed`` is never lost.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

import anyio

from gateway.audit.events import AuditEvent, EventMaker
from gateway.audit.store import AuditStore, AuditUnavailable
from gateway.store import StoreUnavailable

FLUSH_INTERVAL = 0.1
"""Seconds between two writes of the buffer, at most (while the store answers)."""
BATCH = 500
"""Events written in one transaction, at most."""
CHECK_EVERY = 1.0
"""Seconds (of the gateway's clock) between two looks for a due checkpoint when this process wrote
nothing new: a checkpoint due by time, or by a new signing key, waits at most this long."""
WhenUnavailable = Literal["fail_closed", "buffer"]

logger = logging.getLogger("mcp_gateway")


class Checkpoints(Protocol):
    """What the trail asks of its checkpointer (:class:`gateway.audit.checkpoints.Checkpointer`)."""

    async def maybe(self, *, force: bool = False) -> object:
        """Sign a checkpoint when one is due (or, with ``force``, whenever events are unsigned)."""
        ...


class AuditTrail:
    def __init__(
        self,
        store: AuditStore,
        maker: EventMaker,
        *,
        when_unavailable: WhenUnavailable = "fail_closed",
        max_buffered: int = 10_000,
        checkpoints: Checkpoints | None = None,
        wait: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        """``wait`` is how the flusher waits between writes (a test hands in its own)."""
        self.store = store
        self.checkpoints = checkpoints
        self.maker = maker
        self._when_unavailable = when_unavailable
        self._max = max_buffered
        self._wait = wait
        self._buffer: deque[tuple[int, AuditEvent]] = deque()
        self._made = 0
        self._dropped = 0
        self._lock = anyio.Lock()
        self._failing = False
        self._looked: tuple[int, float] | None = None
        """When the flusher last looked for a due checkpoint: (events written then, time)."""
        self.appended = 0
        """Events this process has written to the trail."""

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def add(self, event: AuditEvent) -> int | None:
        """Buffer ``event``; its ticket for :meth:`commit`, or none when the buffer is full."""
        if len(self._buffer) >= self._max - (1 if self._dropped else 0):
            self._dropped += 1
            if self._dropped == 1:
                logger.error("the audit buffer is full: events are in the log only until the trail answers")
            return None
        if self._dropped:
            notice = self.maker.new_event(
                "audit_events_dropped", "dropped", {"count": self._dropped}, via=None, actor=None
            )
            self._dropped = 0
            self._queue(notice)
        return self._queue(event)

    def _queue(self, event: AuditEvent) -> int:
        ticket, self._made = self._made, self._made + 1
        self._buffer.append((ticket, event))
        return ticket

    async def commit(self, event: AuditEvent) -> None:
        """Buffer ``event`` and return once it is written; the policy says what a failure does."""
        ticket = self.add(event)
        if ticket is None:
            raise AuditUnavailable("the audit buffer is full")
        try:
            await self._write_through(ticket)
        except AuditUnavailable:
            if self._when_unavailable == "fail_closed":
                raise

    async def flush(self) -> None:
        """Write everything buffered now; raises :class:`AuditUnavailable` when the store does
        not answer (the events stay buffered)."""
        await self._write_through(self._made - 1)

    async def _write_through(self, ticket: int) -> None:
        async with self._lock:  # one writer per process: a waiting caller may find its event written
            while self._buffer and self._buffer[0][0] <= ticket:
                batch = [event for _, event in itertools.islice(self._buffer, BATCH)]
                with anyio.CancelScope(shield=True):  # a committed batch always leaves the buffer
                    try:
                        await self.store.append(batch)
                    except AuditUnavailable as exc:
                        self._report(exc)
                        raise
                    self._report(None)
                    for _ in batch:
                        self._buffer.popleft()
                    self.appended += len(batch)

    def _report(self, failure: AuditUnavailable | None) -> None:
        """One line when the store stops answering, one when it is back."""
        if failure is not None and not self._failing:
            logger.error(
                "the audit trail does not answer (%s); %d events wait in memory", failure, self.buffered
            )
        elif failure is None and self._failing:
            logger.warning("the audit trail answers again; the events kept in memory are written")
        self._failing = failure is not None

    async def run(self) -> None:
        """Write the buffer every :data:`FLUSH_INTERVAL` seconds and checkpoint when due, until
        cancelled (under a :class:`~gateway.background.Supervisor`)."""
        while True:
            await self._wait(FLUSH_INTERVAL)
            await self.tick()

    async def tick(self) -> None:
        """One pass of the flusher; a store that does not answer is tried again at the next."""
        try:
            await self.flush()
            now = self.maker.clock.now()
            looked = self._looked
            if self.checkpoints is not None and (
                looked is None or looked[0] != self.appended or now - looked[1] >= CHECK_EVERY
            ):
                self._looked = (self.appended, now)
                await self.checkpoints.maybe()
        except StoreUnavailable:
            pass  # reported once (above, or by the checkpointer); the events wait in the buffer

    async def close(self) -> None:
        """At shutdown: write what is buffered and sign it if this process wrote anything, then
        close the store. What cannot be written is counted in the log (it is in the log lines)."""
        try:
            await self.flush()
            if self.checkpoints is not None and self.appended:
                await self.checkpoints.maybe(force=True)
        except StoreUnavailable:
            logger.error("%d audit events were not written to the trail (they are in the log)", self.buffered)
        await self.store.close()
