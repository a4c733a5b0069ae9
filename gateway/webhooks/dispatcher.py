"""``Webhooks``: announces events into the store, and sends what is due in the background.

:meth:`Webhooks.announce` only writes to the store (one pending delivery per endpoint subscribed
to the event, all with the same body) and returns: it never waits on an endpoint and never fails
because one is down; a store that does not answer raises
:class:`~gateway.store.StoreUnavailable`. :meth:`Webhooks.run` loops over :meth:`deliver_due`
(one pass over the due deliveries, a few at a time) until cancelled, under a
:class:`gateway.background.Supervisor`.

Each attempt is signed afresh (its ``webhook-timestamp`` is the attempt's, the ``webhook-id`` is the
delivery's) and recorded in the delivery's log before the next one (WH-3). Replicas sharing a store
each run the loop: before sending, a replica claims the attempt with the store's add-if-absent, so
one attempt goes out once, and a replica that dies mid-attempt leaves a claim that expires and a
delivery that is tried again. Receivers should still treat a repeated ``webhook-id`` as a repeat.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from typing import Any

import anyio

from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.fetching.addresses import Resolver
from gateway.fetching.destinations import Destinations
from gateway.key_encryption import KeyEncryptionError, KeyProtector
from gateway.store import Store, StoreUnavailable
from gateway.webhooks import EVENTS
from gateway.webhooks.deliveries import KEEP_PER_ENDPOINT, Attempt, Deliveries, Delivery
from gateway.webhooks.endpoints import Endpoint, Endpoints, WebhookError
from gateway.webhooks.sender import Outcome, SenderPolicy, WebhookSender
from gateway.webhooks.signing import new_message_id, payload, signed_headers

logger = logging.getLogger("mcp_gateway")

CLAIM_PREFIX = "webhook_attempt:"
POLL_INTERVAL = 1.0
"""Seconds between two passes of :meth:`Webhooks.run`."""
CONCURRENT_ATTEMPTS = 8
"""Attempts in flight at once in one pass, so that an endpoint that hangs delays no other."""
ATTEMPTS_PER_PASS = 64
"""At most this many attempts in one pass (the longest-waiting first): a pass stays short."""


class Webhooks:
    """The gateway's :class:`~gateway.webhooks.Announcer`, its subscriptions and its dispatcher.

    ``policy`` says where deliveries may go (WH-2); ``resolver`` and ``ssl_context`` are the seams
    tests replace (the system's resolver and trust store by default).
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        protector: KeyProtector,
        policy: SenderPolicy,
        audit: AuditLog,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        keep_per_endpoint: int = KEEP_PER_ENDPOINT,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        destinations = Destinations(
            policy.allowed_private_hosts,
            allow_http_for_allowed_hosts=policy.allow_http_for_allowed_hosts,
            resolver=resolver,
        )
        self.endpoints = Endpoints(store, clock, protector, destinations, audit)
        self.deliveries = Deliveries(store, keep_per_endpoint)
        self._sender = WebhookSender(destinations, policy, ssl_context)
        self._store = store
        self._clock = clock
        self._audit = audit
        self._claim_ttl = policy.timeout + 30.0
        self._poll_interval = poll_interval

    async def announce(self, event: str, data: Mapping[str, Any]) -> None:
        """Queue ``event`` for every enabled endpoint subscribed to it; nothing else happens here.

        An event outside :data:`~gateway.webhooks.EVENTS`, or ``data`` that is not JSON, is the
        caller's mistake and raises :class:`ValueError` or :class:`TypeError`.
        """
        if event not in EVENTS:
            raise ValueError(f"unknown webhook event {event!r}")
        listeners = [endpoint for endpoint in await self.endpoints.list_endpoints() if endpoint.wants(event)]
        if not listeners:
            return
        now = self._clock.now()
        body = payload(event, now, data)
        for endpoint in listeners:
            delivery = Delivery(
                new_message_id(), endpoint.id, event, body, created_at=now, next_attempt_at=now
            )
            await self.deliveries.enqueue(delivery)

    async def remove_endpoint(self, endpoint_id: str, *, by: str | None = None) -> bool:
        """Remove a subscription and every delivery of it, pending or logged."""
        removed = await self.endpoints.remove(endpoint_id, by=by)
        if removed:
            await self.deliveries.forget_endpoint(endpoint_id)
        return removed

    async def run(self) -> None:
        """Until cancelled: a pass, a short sleep. A store that does not answer skips one pass."""
        while True:
            try:
                await self.deliver_due()
            except StoreUnavailable:
                logger.warning("webhook deliveries skipped: the store is unavailable")
            await anyio.sleep(self._poll_interval)

    async def deliver_due(self) -> int:
        """One pass: an attempt for each due delivery (at most :data:`ATTEMPTS_PER_PASS`); how many
        attempts were made."""
        due = await self.deliveries.due(self._clock.now())
        if not due:
            return 0
        endpoints = {endpoint.id: endpoint for endpoint in await self.endpoints.list_endpoints()}
        sendable: list[tuple[Delivery, Endpoint]] = []
        for delivery in due:
            endpoint = endpoints.get(delivery.endpoint_id)
            if endpoint is None:  # removed since it was queued
                await self.deliveries.discard(delivery.id)
            elif endpoint.enabled:  # a paused endpoint's deliveries wait, taking no turn
                sendable.append((delivery, endpoint))
        made: list[Delivery] = []
        store_errors: list[StoreUnavailable] = []
        limiter = anyio.CapacityLimiter(CONCURRENT_ATTEMPTS)

        async def attempt(delivery: Delivery, endpoint: Endpoint) -> None:
            async with limiter:
                try:
                    if await self._attempt(delivery, endpoint):
                        made.append(delivery)
                except StoreUnavailable as exc:
                    store_errors.append(exc)

        async with anyio.create_task_group() as group:
            for delivery, endpoint in sendable[:ATTEMPTS_PER_PASS]:
                group.start_soon(attempt, delivery, endpoint)
        if store_errors:
            raise store_errors[0]
        return len(made)

    async def _attempt(self, delivery: Delivery, endpoint: Endpoint) -> bool:
        """One attempt of ``delivery``, unless another replica has claimed it; True when made."""
        claim = f"{CLAIM_PREFIX}{delivery.id}:{len(delivery.attempts)}"
        if not await self._store.add(claim, "claimed", self._claim_ttl):
            return False
        current = await self.deliveries.pending(delivery.id)
        if current is None or len(current.attempts) != len(delivery.attempts):
            return False  # finished or tried by another replica since this pass listed it
        started = self._clock.now()
        outcome = await self._send(current, endpoint, started)
        done = current.after(Attempt(started, outcome.status, outcome.error, outcome.detail))
        await self.deliveries.save(done)
        self._audit_attempt(done, outcome)
        return True

    async def _send(self, delivery: Delivery, endpoint: Endpoint, started: float) -> Outcome:
        try:
            secrets_in_use = await self.endpoints.secrets_in_use(endpoint)
        except (KeyEncryptionError, WebhookError) as exc:
            logger.error("webhook endpoint %s: its secret does not open (%s)", endpoint.id, exc)
            return Outcome(error=type(exc).__name__, detail="the endpoint's secret does not open")
        body = delivery.body.encode()
        headers = signed_headers(delivery.id, started, body, secrets_in_use)
        return await self._sender.post(endpoint.url, body, headers)

    def _audit_attempt(self, delivery: Delivery, outcome: Outcome) -> None:
        """Audited: each refused destination (WH-2) and each delivery's end, delivered or failed."""
        common = {"endpoint": delivery.endpoint_id, "delivery": delivery.id, "webhook_event": delivery.event}
        if outcome.error == "DestinationRefused":
            self._audit.record("webhook_delivery", outcome="refused", reason=outcome.detail, **common)
        if delivery.state != "pending":
            attempts = len(delivery.attempts)
            self._audit.record("webhook_delivery", outcome=delivery.state, attempts=attempts, **common)
