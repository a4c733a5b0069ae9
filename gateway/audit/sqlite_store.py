"""The durable trail on SQLite: the first :class:`~gateway.audit.store.AuditStore`.

It lives in a file of its own (by default beside the store's, ``<name>.audit.sqlite3``), not in the
store's: SQLite lets one writer at a time into a file, and the trail commits with a full ``fsync``
(``synchronous=FULL``: an event ``durable`` returned survives a power cut), which the store's writes
(250 ms budget, failing closed) should never queue behind. The file is owner-only, as the store's.

Calls run in a worker thread (a commit waits for the disk, which the event loop must not), one at a
time per object. Appends take the write lock first (``BEGIN IMMEDIATE``), then read the head, so
any number of processes appending to the file form one chain. The SQL below is written to read
the same on PostgreSQL where it can (``ON CONFLICT``, ``LIMIT``, standard types); the placeholders
and the locking statement are what a PostgreSQL backend changes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio.to_thread

from gateway.audit.chain import GENESIS, StoredEvent, extend
from gateway.audit.events import AuditEvent, EventIndex
from gateway.audit.search_sql import page_query
from gateway.audit.store import EMPTY, AuditFilter, AuditUnavailable, ChainHead, Checkpoint, Signer
from gateway.store.sqlite_file import open_database

_BUSY_TIMEOUT_MS = 2000
_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    seq        INTEGER PRIMARY KEY,
    event_id   TEXT NOT NULL,
    at         DOUBLE PRECISION NOT NULL,
    type       TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    client_id  TEXT,
    subject    TEXT,
    tool       TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at);
CREATE INDEX IF NOT EXISTS audit_events_type ON audit_events (type, seq);
CREATE INDEX IF NOT EXISTS audit_events_outcome ON audit_events (outcome, seq);
CREATE INDEX IF NOT EXISTS audit_events_client ON audit_events (client_id, seq);
CREATE INDEX IF NOT EXISTS audit_events_subject ON audit_events (subject, seq);
CREATE INDEX IF NOT EXISTS audit_events_tool ON audit_events (tool, seq);
CREATE TABLE IF NOT EXISTS audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    number  INTEGER PRIMARY KEY,
    seq     INTEGER NOT NULL,
    hash    TEXT NOT NULL,
    at      DOUBLE PRECISION NOT NULL,
    jws     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_exports (
    exporter  TEXT PRIMARY KEY,
    seq       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_pruned (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
"""
_FIRST_HEAD = "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, ?) ON CONFLICT (id) DO NOTHING"
_INSERT = (
    "INSERT INTO audit_events"
    " (seq, prev_hash, hash, body, event_id, at, type, outcome, client_id, subject, tool) VALUES "
)
_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_ROWS_PER_STATEMENT = 500
"""Rows one INSERT carries. One statement per batch, not one per row: the sqlite3 module lets go of
the GIL around every step, and a worker thread that must take it back from a busy event loop
waits up to a switch interval (5 ms) each time, so 500 single-row steps made a batch take seconds
while the gateway was under load (the flusher fell behind and its buffer overflowed)."""
_CHECKPOINTS = (
    "SELECT number, seq, hash, at, jws FROM audit_checkpoints WHERE number > ? ORDER BY number LIMIT ?"
)
_LAST_CHECKPOINT = "SELECT number, seq, hash, at, jws FROM audit_checkpoints ORDER BY number DESC LIMIT 1"
_SET_EXPORT_POSITION = """
INSERT INTO audit_exports (exporter, seq) VALUES (?, ?)
ON CONFLICT (exporter) DO UPDATE SET seq = excluded.seq WHERE excluded.seq > audit_exports.seq
"""
_SET_PRUNED = """
INSERT INTO audit_pruned (id, seq, hash) VALUES (1, ?, ?)
ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
"""


class SQLiteAuditStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = open_database(path, busy_timeout_ms=_BUSY_TIMEOUT_MS, synchronous="FULL")
            self._db.executescript(_SCHEMA)
            self._db.execute(_FIRST_HEAD, (GENESIS,))
        except (OSError, sqlite3.Error) as exc:
            raise AuditUnavailable(f"cannot open the audit trail {path!r}: {exc}") from exc

    async def _run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        def locked() -> _T:
            with self._lock:
                try:
                    return work(self._db)
                except sqlite3.Error as exc:
                    raise AuditUnavailable(f"audit trail {self.path!r}: {exc}") from exc
                finally:
                    if self._db.in_transaction:  # whatever stopped the work, it changed nothing
                        self._db.rollback()

        return await anyio.to_thread.run_sync(locked)

    # -- events --------------------------------------------------------------------------------
    async def append(self, events: Sequence[AuditEvent]) -> ChainHead:
        def work(db: sqlite3.Connection) -> ChainHead:
            db.execute("BEGIN IMMEDIATE")  # the write lock first: no other appender reads this head
            seq, prev_hash = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            links = list(extend(seq, prev_hash, events))
            if not links:
                db.execute("ROLLBACK")
                return ChainHead(seq, prev_hash)
            for start in range(0, len(links), _ROWS_PER_STATEMENT):
                chunk = links[start : start + _ROWS_PER_STATEMENT]
                values = [value for link in chunk for value in _row(link)]
                db.execute(_INSERT + ", ".join([_ROW] * len(chunk)), values)
            head = ChainHead(links[-1].seq, links[-1].hash)
            db.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (head.seq, head.hash))
            db.execute("COMMIT")
            return head

        return await self._run(work)

    async def head(self) -> ChainHead:
        def work(db: sqlite3.Connection) -> ChainHead:
            row = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            return EMPTY if row is None else ChainHead(int(row[0]), str(row[1]))

        return await self._run(work)

    async def read(
        self, after: int = 0, limit: int = 1000, filters: AuditFilter | None = None
    ) -> list[StoredEvent]:
        sql, params = page_query(after, limit, filters or AuditFilter())
        rows = await self._run(lambda db: db.execute(sql, params).fetchall())
        return [_stored(row) for row in rows]

    # -- checkpoints ---------------------------------------------------------------------------
    async def add_checkpoint(self, seq: int, hash: str, at: float, sign: Signer) -> Checkpoint | None:
        def work(db: sqlite3.Connection) -> Checkpoint | None:
            db.execute("BEGIN IMMEDIATE")
            last = db.execute(_LAST_CHECKPOINT).fetchone()
            if last is not None and last[1] >= seq:
                db.execute("ROLLBACK")
                return None
            number = 1 if last is None else last[0] + 1
            checkpoint = Checkpoint(number, seq, hash, at, sign(number))
            db.execute(
                "INSERT INTO audit_checkpoints (number, seq, hash, at, jws) VALUES (?, ?, ?, ?, ?)",
                (number, seq, hash, at, checkpoint.jws),
            )
            db.execute("COMMIT")
            return checkpoint

        return await self._run(work)

    async def checkpoints(self, after: int = 0, limit: int = 1000) -> list[Checkpoint]:
        rows = await self._run(lambda db: db.execute(_CHECKPOINTS, (after, limit)).fetchall())
        return [Checkpoint(*row) for row in rows]

    async def last_checkpoint(self) -> Checkpoint | None:
        row = await self._run(lambda db: db.execute(_LAST_CHECKPOINT).fetchone())
        return None if row is None else Checkpoint(*row)

    # -- export and retention ------------------------------------------------------------------
    async def export_position(self, exporter: str) -> int:
        query = "SELECT seq FROM audit_exports WHERE exporter = ?"
        row = await self._run(lambda db: db.execute(query, (exporter,)).fetchone())
        return 0 if row is None else int(row[0])

    async def set_export_position(self, exporter: str, seq: int) -> None:
        await self._run(lambda db: db.execute(_SET_EXPORT_POSITION, (exporter, seq)))

    async def prune(self, through: int) -> int:
        def work(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT seq, hash FROM audit_events WHERE seq = ?", (through,)).fetchone()
            if row is None:  # pruned already, or not written yet
                db.execute("ROLLBACK")
                return 0
            deleted = db.execute("DELETE FROM audit_events WHERE seq <= ?", (through,)).rowcount
            db.execute(_SET_PRUNED, (row[0], row[1]))
            db.execute("COMMIT")
            return int(deleted)

        return await self._run(work)

    async def pruned(self) -> ChainHead:
        row = await self._run(
            lambda db: db.execute("SELECT seq, hash FROM audit_pruned WHERE id = 1").fetchone()
        )
        return EMPTY if row is None else ChainHead(int(row[0]), str(row[1]))

    async def close(self) -> None:
        with self._lock:
            self._db.close()


def _row(link: StoredEvent) -> tuple[Any, ...]:
    i = link.index
    return (
        link.seq,
        link.prev_hash,
        link.hash,
        link.body,
        i.event_id,
        i.at,
        i.type,
        i.outcome,
        i.client_id,
        i.subject,
        i.tool,
    )


def _stored(row: Sequence[Any]) -> StoredEvent:
    seq, prev_hash, digest, body, *index = row
    return StoredEvent(int(seq), str(prev_hash), str(digest), str(body), EventIndex(*index))
