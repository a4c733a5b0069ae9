"""The loop every exporter runs: read the trail after its position, deliver, then move the position.

An :class:`Exporter` keeps one position in the trail's store (``AuditStore.export_position``): the
sequence number through which its :class:`Sink` confirmed delivery. One pass reads at most
``batch_events`` events after it (fewer when their bodies pass ``batch_bytes``), hands them to the
sink, and moves the position to the last one only once the sink returned; a sink that raises
:class:`ExportFailed` (the receiver is down, refused, or too slow) leaves the position where it
was, and the same events are sent again after a backoff (doubling from :data:`FIRST_BACKOFF` to
:data:`MAX_BACKOFF` seconds, or what the receiver asked for with ``Retry-After``). So delivery is at
least once: a receiver may see a batch twice (when its confirmation was lost), never miss one, and
an outage costs nothing but time. Whatever a receiver does, the loop never raises: the gateway
goes on, and the outage is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import anyio

from gateway.audit.chain import StoredEvent
from gateway.audit.store import AuditStore
from gateway.store import StoreUnavailable

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 300.0
IDLE = 1.0
"""Seconds between two looks at the trail when everything was delivered."""

logger = logging.getLogger("mcp_gateway")


class ExportFailed(Exception):
    """A batch was not confirmed; ``retry_after`` is what the receiver asked us to wait (seconds)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Sink(Protocol):
    """Where one exporter delivers. ``deliver`` returns once the receiver confirmed every event of
    the batch, and raises :class:`ExportFailed` otherwise (never anything else for what the
    receiver or the network does)."""

    async def deliver(self, batch: Sequence[StoredEvent]) -> None: ...

    async def close(self) -> None: ...


class Exporter:
    def __init__(
        self,
        name: str,
        store: AuditStore,
        sink: Sink,
        *,
        batch_events: int = 500,
        batch_bytes: int = 1 << 20,
        wait: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        """``name`` keys the position in the store (rename an exporter and it starts again from
        the oldest event kept); ``wait`` is how the loop waits (a test hands in its own)."""
        self.name = name
        self._store = store
        self.sink = sink
        self._batch_events = batch_events
        self._batch_bytes = batch_bytes
        self._wait = wait
        self._backoff = 0.0
        self._failing: str | None = None
        self.delivered = 0
        """Events this exporter delivered since it started (a batch sent again counts again)."""

    async def run(self) -> None:
        """Until cancelled (under a :class:`~gateway.background.Supervisor`)."""
        try:
            while True:
                await self._wait(await self.step())
        finally:
            with anyio.CancelScope(shield=True):
                await self.sink.close()

    async def step(self) -> float:
        """One pass: at most one batch delivered; how long to wait before the next pass."""
        try:
            position = await self._store.export_position(self.name)
            batch = _bounded(await self._store.read(position, self._batch_events), self._batch_bytes)
        except StoreUnavailable as exc:
            return self._failed(f"the trail does not answer ({exc})", None)
        if not batch:
            return IDLE
        try:
            await self.sink.deliver(batch)
        except ExportFailed as exc:
            return self._failed(str(exc), exc.retry_after)
        try:
            await self._store.set_export_position(self.name, batch[-1].seq)
        except StoreUnavailable as exc:  # delivered, not recorded: sent again later (at least once)
            return self._failed(f"the trail does not answer ({exc})", None)
        self.delivered += len(batch)
        if self._failing is not None:
            logger.warning("audit exporter %s delivers again (through event %d)", self.name, batch[-1].seq)
        self._failing, self._backoff = None, 0.0
        return 0.0 if len(batch) == self._batch_events else IDLE

    def _failed(self, reason: str, retry_after: float | None) -> float:
        if self._failing is None:
            logger.error("audit exporter %s cannot deliver: %s; it will try again", self.name, reason)
        self._failing = reason
        self._backoff = min(MAX_BACKOFF, self._backoff * 2 if self._backoff else FIRST_BACKOFF)
        return max(self._backoff, min(retry_after or 0.0, MAX_BACKOFF))


def _bounded(events: list[StoredEvent], limit: int) -> list[StoredEvent]:
    """The longest prefix whose bodies fit in ``limit`` bytes (always one event at least)."""
    size = 0
    for index, stored in enumerate(events):
        size += len(stored.body.encode("utf-8"))
        if size > limit and index > 0:
            return events[:index]
    return events
