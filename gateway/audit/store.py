"""The seam of the durable trail: :class:`AuditStore`, and what it stores besides the events.

A backend keeps three things: the events (each with its sequence number, its previous hash, its
hash and its body, :mod:`gateway.audit.chain`), the *head* (the sequence number and hash the last
append ended on) and the signed checkpoints. Its promises, which the contract tests
(``tests/test_audit_store_contract.py``) hold every backend to:

* ``append`` is one transaction: it reads the head, chains the batch after it, writes the events
  and the new head, and commits, or changes nothing. Appends from any number of processes are
  serialised by the backend (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``SELECT … FOR UPDATE`` on the
  head row), so the trail is one chain with gap-free sequence numbers, whoever wrote it.
* ``add_checkpoint`` is one transaction too: checkpoints are numbered without gaps, each after a
  sequence number higher than the last one's.
* A backend that cannot answer raises :class:`AuditUnavailable` (a
  :class:`~gateway.store.StoreUnavailable`: a request that needs the trail fails closed, 503).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.audit.chain import GENESIS, StoredEvent
from gateway.audit.events import AuditEvent
from gateway.store import StoreUnavailable


class AuditUnavailable(StoreUnavailable):
    """The durable trail cannot take or give events right now."""


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str


EMPTY = ChainHead(0, GENESIS)


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that event ``seq`` of the trail had ``hash`` at ``at``."""

    number: int
    seq: int
    hash: str
    at: float
    jws: str


@dataclass(frozen=True)
class AuditFilter:
    """What ``audit search`` narrows to; every criterion given must hold. ``since`` is inclusive,
    ``until`` exclusive (seconds since the epoch)."""

    since: float | None = None
    until: float | None = None
    types: tuple[str, ...] = ()
    client_id: str | None = None
    subject: str | None = None
    outcome: str | None = None
    tool: str | None = None


Signer = Callable[[int], str]
"""Signs the checkpoint that will carry this number (its compact JWS)."""


class AuditStore(Protocol):
    async def append(self, events: Sequence[AuditEvent]) -> ChainHead:
        """Chain and commit ``events`` after the head, in one transaction; the new head."""
        ...

    async def head(self) -> ChainHead:
        """Where the last append ended (:data:`EMPTY` for an empty trail)."""
        ...

    async def read(
        self, after: int = 0, limit: int = 1000, filters: AuditFilter | None = None
    ) -> list[StoredEvent]:
        """At most ``limit`` events with a sequence number above ``after``, in order."""
        ...

    async def add_checkpoint(self, seq: int, hash: str, at: float, sign: Signer) -> Checkpoint | None:
        """Store a checkpoint of event ``seq`` numbered after the last one, its JWS made by
        ``sign``; none when the last checkpoint is already at or past ``seq``."""
        ...

    async def checkpoints(self, after: int = 0, limit: int = 1000) -> list[Checkpoint]:
        """At most ``limit`` checkpoints numbered above ``after``, in order."""
        ...

    async def last_checkpoint(self) -> Checkpoint | None: ...

    # -- export and retention ------------------------------------------------------------------
    async def export_position(self, exporter: str) -> int:
        """The sequence number through which ``exporter`` confirmed delivery (0: nothing yet)."""
        ...

    async def set_export_position(self, exporter: str, seq: int) -> None:
        """Record that ``exporter`` delivered every event through ``seq``. Positions only move
        forward: a lower ``seq`` than the recorded one changes nothing."""
        ...

    async def prune(self, through: int) -> int:
        """In one transaction: delete the events numbered ``through`` and below and remember the
        last one deleted (:meth:`pruned`); checkpoints stay (small, and still numbered without
        gaps). How many events were deleted: 0 when event ``through`` is not in the trail (pruned
        already, or not written). The caller decides what may go (retention: old enough, and
        delivered by every exporter)."""
        ...

    async def pruned(self) -> ChainHead:
        """The last event deleted by :meth:`prune` (its sequence number and hash), the anchor the
        retained trail chains from: :data:`EMPTY` while nothing was pruned."""
        ...

    async def close(self) -> None: ...
