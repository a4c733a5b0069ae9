"""The one way the gateway audits a decision: :class:`AuditLog`.

Every call writes the event as one JSON log line (``mcp_gateway.audit``, as before the trail
existed) and hands it to the durable trail (:mod:`gateway.audit.trail`):

* ``record(type, outcome=…, **fields)``: synchronous and cheap; the event is buffered and written
  within :data:`~gateway.audit.trail.FLUSH_INTERVAL` seconds. For refusals, failures, and the
  consequences of time (expiries, reviews due).
* ``await durable(type, outcome=…, **fields)``: returns once the event is committed to the trail
  (or, under ``audit_when_unavailable = "buffer"``, kept in memory while the trail is down). For
  decisions that grant something: a token issued or exchanged at ``/token``, and every step of the
  approval loop (requests filed, approved and denied, grants revoked and re-certified, held calls
  approved, denied and passed). The caller answers only after it returns, so a decision that
  grants is never given without its record, and a trail that cannot take it makes the request
  fail closed (503).

The actor is read from the fields by name (``by``: the person deciding; else ``client_id``,
``sub`` or ``subject``, and ``actor_chain`` or ``actor``: ``Actor.from_fields`` in
:mod:`gateway.audit.events`); how the request came in is the channel the face that received it
entered (:meth:`AuditLog.entered_via`). An ``AuditLog`` without a trail writes the log line only (tests of
parts that do not care where events go).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from gateway.audit.events import CHANNELS, AuditEvent, EventMaker
from gateway.audit.trail import AuditTrail
from gateway.clock import Clock, SystemClock


class AuditLog:
    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        clock: Clock | None = None,
        trail: AuditTrail | None = None,
        maker: EventMaker | None = None,
    ) -> None:
        self._logger = logger or logging.getLogger("mcp_gateway.audit")
        self._maker = maker or EventMaker(clock or SystemClock())
        self.trail = trail
        self._via: ContextVar[str | None] = ContextVar(f"audit_channel_{id(self)}", default=None)

    def record(self, event: str, *, outcome: str, **fields: Any) -> None:
        made = self._made(event, outcome, fields)
        if self.trail is not None:
            self.trail.add(made)

    async def durable(self, event: str, *, outcome: str, **fields: Any) -> None:
        """Raises :class:`~gateway.audit.store.AuditUnavailable` when the trail cannot take the
        event and the policy is ``fail_closed`` (or the buffer is full)."""
        made = self._made(event, outcome, fields)
        if self.trail is not None:
            await self.trail.commit(made)

    @property
    def channel(self) -> str | None:
        """The channel entered here, if any."""
        return self._via.get()

    @contextlib.contextmanager
    def entered_via(self, channel: str) -> Iterator[None]:
        """Every event recorded inside the block came in through ``channel`` (one of
        :data:`~gateway.audit.events.CHANNELS`)."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown audit channel {channel!r}")
        token = self._via.set(channel)
        try:
            yield
        finally:
            self._via.reset(token)

    def _made(self, event: str, outcome: str, fields: dict[str, Any]) -> AuditEvent:
        made = self._maker.new_event(event, outcome, fields, via=self._via.get(), actor=None)
        if self._logger.isEnabledFor(logging.INFO):  # the line as it has always been
            line = {"event": made.type, "outcome": made.outcome, **made.fields}
            self._logger.info(json.dumps(line, separators=(",", ":")))
        return made
