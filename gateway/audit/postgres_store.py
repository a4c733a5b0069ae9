"""The durable trail on PostgreSQL: one chain that every replica appends to.

Its tables (``audit_events``, ``audit_head``, ``audit_checkpoints``, ``audit_exports``,
``audit_pruned``) come from migration 2 of the store's schema (:mod:`gateway.store.postgres_schema`),
so ``mcp-gateway migrate`` makes them and a trail on a schema that is not current refuses to work,
saying what to run. By default they live in the store's own database.

Same semantics as the SQLite trail (:mod:`gateway.audit.sqlite_store`), with PostgreSQL's locks:

* ``append`` is one transaction that locks the head row first (``SELECT … FOR UPDATE``): an appender
  in another process waits for the commit, then chains after it, so the sequence numbers have no
  gap whoever wrote them. The batch and the new head go in as one statement (``INSERT … SELECT
  FROM unnest(…)`` and the head's ``UPDATE``): one round trip, whatever the batch's size.
* An append whose answer is lost (the deadline passed while it committed) may have been written
  all the same; the trail sends the same events again, and an append of events that failed before
  leaves out those already in the trail (by id, looked up by their times), so no event is written
  twice.
* ``add_checkpoint`` and ``prune`` take a transaction-scoped advisory lock of their own, so two
  processes never number two checkpoints alike, and two prunes never interleave.

Failing closed, fast: calls go through :class:`~gateway.store.postgres_calls.PostgresCalls` (the
store's pool, gate and timeouts), with a deadline of :data:`DEADLINE` per call: a stopped or
frozen server makes every call raise :class:`AuditUnavailable` by then, and the same object works
again when the server is back. The deadline is longer than the store's 0.4 s because an append
waits for the disk (``synchronous_commit``) and may carry 500 events; on a local server such a
batch takes 25 to 40 ms (``bench/audit_appends.py``). ``prune`` deletes as many events as it is
told in one statement, which may take long: it has a connection and a deadline of its own
(:data:`PRUNE_DEADLINE`), so it never holds up the trail's appends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg

from gateway.audit.chain import StoredEvent, extend
from gateway.audit.events import AuditEvent, EventIndex
from gateway.audit.search_sql import numbered, page_query
from gateway.audit.store import EMPTY, AuditFilter, AuditUnavailable, ChainHead, Checkpoint, Signer
from gateway.store import StoreUnavailable
from gateway.store.postgres_calls import PostgresCalls
from gateway.store.postgres_connection import Connection

T = TypeVar("T")

DEADLINE = 1.0
"""Seconds a trail call may take (connecting, waiting for the head lock, committing)."""
PRUNE_DEADLINE = 60.0
"""Seconds a ``prune`` may take: it is the retention job's, never a request's."""
CONNECTIONS = 4
"""Connections per process: one process writes one batch at a time; the rest read."""
_DOUBTS_KEPT = 20_000
"""Ids of events whose append failed, kept at most (twice the trail's default buffer)."""

_CHECKPOINT_LOCK = 0x6D63_7067_7720_6370
_PRUNE_LOCK = 0x6D63_7067_7720_7072

_WRITE = """
WITH written AS (
    INSERT INTO audit_events
        (seq, prev_hash, hash, body, event_id, at, type, outcome, client_id, subject, tool)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::float8[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
)
UPDATE audit_head SET seq = $12, hash = $13 WHERE id = 1
"""
_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"
_WRITTEN = "SELECT event_id FROM audit_events WHERE at >= $1 AND at <= $2 AND event_id = ANY($3::text[])"
_LAST_CHECKPOINT = "SELECT number, seq, hash, at, jws FROM audit_checkpoints ORDER BY number DESC LIMIT 1"
_CHECKPOINTS = (
    "SELECT number, seq, hash, at, jws FROM audit_checkpoints WHERE number > $1 ORDER BY number LIMIT $2"
)
_ADD_CHECKPOINT = "INSERT INTO audit_checkpoints (number, seq, hash, at, jws) VALUES ($1, $2, $3, $4, $5)"
_SET_EXPORT_POSITION = """
INSERT INTO audit_exports (exporter, seq) VALUES ($1, $2)
ON CONFLICT (exporter) DO UPDATE SET seq = excluded.seq WHERE excluded.seq > audit_exports.seq
"""
_SET_PRUNED = """
INSERT INTO audit_pruned (id, seq, hash) VALUES (1, $1, $2)
ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
"""


class PostgresAuditStore:
    """The :class:`~gateway.audit.store.AuditStore` protocol on the database ``url`` names.

    Nothing connects before the first call (it is made in the event loop that serves)."""

    def __init__(self, url: str, *, deadline: float = DEADLINE, connections: int = CONNECTIONS) -> None:
        # A URL that is no PostgreSQL URL is a ValueError, as a bad setting is: the gateway stops.
        self._calls = PostgresCalls(url, deadline=deadline, max_connections=connections)
        self._maintenance = PostgresCalls(url, deadline=PRUNE_DEADLINE, max_connections=1)
        self._maybe_written: dict[str, None] = {}
        """The ids of events whose append failed (in order): it may have committed all the same,
        its answer lost at the deadline, and the trail sends them again."""

    async def _run(self, work: Callable[[Connection], Awaitable[T]], calls: PostgresCalls | None = None) -> T:
        try:
            return await (calls or self._calls).run(work)
        except StoreUnavailable as exc:
            raise AuditUnavailable(f"audit trail: {exc}") from exc

    # -- events --------------------------------------------------------------------------------
    async def append(self, events: Sequence[AuditEvent]) -> ChainHead:
        if not events:
            return await self.head()
        doubtful = [event for event in events if event.event_id in self._maybe_written]

        async def work(db: Connection) -> ChainHead:
            async with db.transaction():
                locked = await db.fetchrow(_HEAD + " FOR UPDATE")  # other appenders wait here
                if locked is None:
                    raise AuditUnavailable("the trail has no head row: was it made by mcp-gateway migrate?")
                seq, prev_hash = int(locked["seq"]), str(locked["hash"])
                batch = await _not_written(db, events, doubtful) if doubtful else events
                if not batch:
                    return ChainHead(seq, prev_hash)
                links = list(extend(seq, prev_hash, batch))
                head = ChainHead(links[-1].seq, links[-1].hash)
                await db.execute(_WRITE, *_columns(links), head.seq, head.hash)  # events and head at once
            return head

        try:
            head = await self._run(work)
        except AuditUnavailable:
            self._maybe_written.update(dict.fromkeys(event.event_id for event in events))
            while len(self._maybe_written) > _DOUBTS_KEPT:
                del self._maybe_written[next(iter(self._maybe_written))]
            raise
        for event in doubtful:
            del self._maybe_written[event.event_id]
        return head

    async def head(self) -> ChainHead:
        row = await self._run(lambda db: db.fetchrow(_HEAD))
        return EMPTY if row is None else ChainHead(int(row["seq"]), str(row["hash"]))

    async def read(
        self, after: int = 0, limit: int = 1000, filters: AuditFilter | None = None
    ) -> list[StoredEvent]:
        sql, params = page_query(after, limit, filters or AuditFilter())
        sql = numbered(sql)
        rows: list[asyncpg.Record] = await self._run(lambda db: db.fetch(sql, *params))
        return [_stored(row) for row in rows]

    # -- checkpoints ---------------------------------------------------------------------------
    async def add_checkpoint(self, seq: int, hash: str, at: float, sign: Signer) -> Checkpoint | None:
        async def work(db: Connection) -> Checkpoint | None:
            async with db.transaction():
                await db.execute("SELECT pg_advisory_xact_lock($1)", _CHECKPOINT_LOCK)
                last = await db.fetchrow(_LAST_CHECKPOINT)
                if last is not None and last["seq"] >= seq:
                    return None
                number = 1 if last is None else int(last["number"]) + 1
                checkpoint = Checkpoint(number, seq, hash, at, sign(number))
                await db.execute(_ADD_CHECKPOINT, number, seq, hash, at, checkpoint.jws)
                return checkpoint

        return await self._run_letting_through(work)

    async def _run_letting_through(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """As :meth:`_run`, but an error of the caller's own (a signer that failed) is its own:
        the gate would have made it an outage."""
        failures: list[Exception] = []

        async def guarded(db: Connection) -> T:
            try:
                return await work(db)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                raise
            except Exception as exc:  # rolled back already: raised out of the transaction
                failures.append(exc)
                raise

        try:
            return await self._run(guarded)
        except AuditUnavailable:
            if failures:
                raise failures[0] from None
            raise

    async def checkpoints(self, after: int = 0, limit: int = 1000) -> list[Checkpoint]:
        rows: list[asyncpg.Record] = await self._run(lambda db: db.fetch(_CHECKPOINTS, after, limit))
        return [_checkpoint(row) for row in rows]

    async def last_checkpoint(self) -> Checkpoint | None:
        row = await self._run(lambda db: db.fetchrow(_LAST_CHECKPOINT))
        return None if row is None else _checkpoint(row)

    # -- export and retention ------------------------------------------------------------------
    async def export_position(self, exporter: str) -> int:
        sql = "SELECT seq FROM audit_exports WHERE exporter = $1"
        seq = await self._run(lambda db: db.fetchval(sql, exporter))
        return 0 if seq is None else int(seq)

    async def set_export_position(self, exporter: str, seq: int) -> None:
        await self._run(lambda db: db.execute(_SET_EXPORT_POSITION, exporter, seq))

    async def prune(self, through: int) -> int:
        async def work(db: Connection) -> int:
            async with db.transaction():
                await db.execute("SELECT pg_advisory_xact_lock($1)", _PRUNE_LOCK)
                last = await db.fetchrow("SELECT seq, hash FROM audit_events WHERE seq = $1", through)
                if last is None:  # pruned already, or not written yet
                    return 0
                status = await db.execute("DELETE FROM audit_events WHERE seq <= $1", through)
                await db.execute(_SET_PRUNED, last["seq"], last["hash"])
            return int(status.split()[-1])  # "DELETE <count>"

        return await self._run(work, self._maintenance)

    async def pruned(self) -> ChainHead:
        row = await self._run(lambda db: db.fetchrow("SELECT seq, hash FROM audit_pruned WHERE id = 1"))
        return EMPTY if row is None else ChainHead(int(row["seq"]), str(row["hash"]))

    async def close(self) -> None:
        await self._calls.close()
        await self._maintenance.close()


async def _not_written(
    db: Connection, events: Sequence[AuditEvent], doubtful: Sequence[AuditEvent]
) -> list[AuditEvent]:
    """``events`` without the ``doubtful`` ones the trail holds already (found by id, within their
    times)."""
    times = [event.at for event in doubtful]
    ids = [event.event_id for event in doubtful]
    rows = await db.fetch(_WRITTEN, min(times), max(times), ids)
    written = {row["event_id"] for row in rows}
    return [event for event in events if event.event_id not in written]


def _columns(links: Sequence[StoredEvent]) -> tuple[list[Any], ...]:
    """The batch as :data:`_INSERT` takes it: one array per column."""
    return (
        [link.seq for link in links],
        [link.prev_hash for link in links],
        [link.hash for link in links],
        [link.body for link in links],
        [link.index.event_id for link in links],
        [link.index.at for link in links],
        [link.index.type for link in links],
        [link.index.outcome for link in links],
        [link.index.client_id for link in links],
        [link.index.subject for link in links],
        [link.index.tool for link in links],
    )


def _stored(row: asyncpg.Record) -> StoredEvent:
    index = EventIndex(
        row["event_id"], row["at"], row["type"], row["outcome"], row["client_id"], row["subject"], row["tool"]
    )
    return StoredEvent(int(row["seq"]), row["prev_hash"], row["hash"], row["body"], index)


def _checkpoint(row: asyncpg.Record) -> Checkpoint:
    return Checkpoint(int(row["number"]), int(row["seq"]), row["hash"], float(row["at"]), row["jws"])
