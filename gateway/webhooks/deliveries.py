"""The durable queue of deliveries, their retry schedule, and the delivery log (WH-3).

A delivery is one announcement for one endpoint: its message id (the ``webhook-id``, the same on
every retry), the body, and every attempt made so far (when, and the HTTP status or the class of
error). It waits in the store's ``webhook_outbox`` collection while it is pending, so a restart
loses nothing; once delivered, or failed for good, it moves to ``webhook_deliveries``, where only
the newest :data:`KEEP_PER_ENDPOINT` of each endpoint are kept. The log of an endpoint is both:
what is still pending and what has finished.

The retry schedule (:data:`RETRY_DELAYS`): the first attempt goes at once; a failed attempt
(connection error, timeout, refused address, any status outside 2xx, redirects included) is
retried 5 s, 30 s, 2 min, 10 min, 1 h and 6 h after the attempt before it; when the seventh attempt
fails too, about seven hours after the announcement, the delivery is marked failed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from gateway.store import Store

OUTBOX = "webhook_outbox"
LOG = "webhook_deliveries"
RETRY_DELAYS = (5.0, 30.0, 120.0, 600.0, 3600.0, 6 * 3600.0)
"""Seconds from a failed attempt to the next one; one more failure after the last means failed."""
KEEP_PER_ENDPOINT = 100
"""Finished deliveries kept in the log of each endpoint (pending ones are always kept)."""

State = Literal["pending", "delivered", "failed"]


@dataclass(frozen=True)
class Attempt:
    """One try: when it started and what came of it (a status, or the class of error and why)."""

    at: float
    status: int | None = None
    error: str | None = None
    detail: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def summary(self) -> str:
        """``HTTP 500``, ``HTTP 302 (redirects are not followed)``, ``ConnectError: …``."""
        what = f"HTTP {self.status}" if self.status is not None else self.error or "unknown"
        if self.detail:
            return f"{what} ({self.detail})" if self.status is not None else f"{what}: {self.detail}"
        return what


@dataclass(frozen=True)
class Delivery:
    id: str
    """The message id, sent as ``webhook-id``."""
    endpoint_id: str
    event: str
    body: str
    created_at: float
    state: State = "pending"
    next_attempt_at: float | None = None
    attempts: tuple[Attempt, ...] = ()

    def after(self, attempt: Attempt) -> Delivery:
        """This delivery once ``attempt`` is made: delivered, due again later, or failed."""
        attempts = (*self.attempts, attempt)
        if attempt.succeeded:
            return replace(self, state="delivered", next_attempt_at=None, attempts=attempts)
        retries_made = len(attempts) - 1
        if retries_made >= len(RETRY_DELAYS):
            return replace(self, state="failed", next_attempt_at=None, attempts=attempts)
        return replace(self, next_attempt_at=attempt.at + RETRY_DELAYS[retries_made], attempts=attempts)

    def as_dict(self) -> dict[str, Any]:
        """What the log shows: everything but the body."""
        fields = asdict(self)
        del fields["body"]
        fields["attempts"] = [asdict(attempt) for attempt in self.attempts]
        return fields

    def to_record(self) -> str:
        fields = asdict(self)
        del fields["id"]
        return json.dumps(fields)

    @classmethod
    def from_record(cls, delivery_id: str, value: str) -> Delivery:
        fields = json.loads(value)
        fields["attempts"] = tuple(Attempt(**attempt) for attempt in fields["attempts"])
        return cls(id=delivery_id, **fields)


def _newest_first(deliveries: list[Delivery]) -> list[Delivery]:
    return sorted(deliveries, key=lambda d: (d.created_at, d.id), reverse=True)


class Deliveries:
    """The outbox and the log in the store."""

    def __init__(self, store: Store, keep_per_endpoint: int = KEEP_PER_ENDPOINT) -> None:
        self._store = store
        self._keep = keep_per_endpoint

    async def enqueue(self, delivery: Delivery) -> None:
        await self._store.put_record(OUTBOX, delivery.id, delivery.to_record())

    async def pending(self, delivery_id: str) -> Delivery | None:
        value = await self._store.get_record(OUTBOX, delivery_id)
        return None if value is None else Delivery.from_record(delivery_id, value)

    async def _all_pending(self) -> list[Delivery]:
        records = await self._store.list_records(OUTBOX)
        return [Delivery.from_record(delivery_id, value) for delivery_id, value in records.items()]

    async def _finished(self) -> list[Delivery]:
        records = await self._store.list_records(LOG)
        return [Delivery.from_record(delivery_id, value) for delivery_id, value in records.items()]

    async def due(self, now: float) -> list[Delivery]:
        """Pending deliveries whose next attempt is due, the longest-waiting first."""
        due = [
            d for d in await self._all_pending() if d.next_attempt_at is not None and d.next_attempt_at <= now
        ]
        return sorted(due, key=lambda d: (d.next_attempt_at or 0.0, d.created_at, d.id))

    async def save(self, delivery: Delivery) -> None:
        """Keep ``delivery`` where its state says: the outbox while pending, else the log (which is
        then cut back to the newest deliveries of its endpoint)."""
        if delivery.state == "pending":
            await self._store.put_record(OUTBOX, delivery.id, delivery.to_record())
            return
        await self._store.put_record(LOG, delivery.id, delivery.to_record())
        await self._store.delete_record(OUTBOX, delivery.id)
        mine = [d for d in await self._finished() if d.endpoint_id == delivery.endpoint_id]
        for old in _newest_first(mine)[self._keep :]:
            await self._store.delete_record(LOG, old.id)

    async def discard(self, delivery_id: str) -> None:
        """A pending delivery whose endpoint is gone."""
        await self._store.delete_record(OUTBOX, delivery_id)

    async def for_endpoint(self, endpoint_id: str) -> list[Delivery]:
        """The log of one endpoint, newest first: pending deliveries and the finished ones kept."""
        finished = [d for d in await self._finished() if d.endpoint_id == endpoint_id]
        seen = {d.id for d in finished}  # a delivery in both was finished when the outbox failed us
        pending = [d for d in await self._all_pending() if d.endpoint_id == endpoint_id and d.id not in seen]
        return _newest_first(pending + finished)

    async def forget_endpoint(self, endpoint_id: str) -> None:
        """Drop every delivery of a removed endpoint, pending or logged."""
        for collection in (OUTBOX, LOG):
            for delivery_id, value in (await self._store.list_records(collection)).items():
                if Delivery.from_record(delivery_id, value).endpoint_id == endpoint_id:
                    await self._store.delete_record(collection, delivery_id)
