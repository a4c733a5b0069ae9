"""SQLite store: the embedded default.

One file holds everything a single-host gateway needs to survive a restart (clients, signing
keys, replay and revocation facts). The server and the CLI open the same file at the same time,
so every guarantee here holds across processes:

* WAL mode lets readers and one writer proceed together; ``synchronous=NORMAL`` skips the fsync
  per commit (a power cut can lose the last commits, never corrupt the file).
* Every write is one autocommit statement, so ``add`` (upsert guarded by "only if expired"),
  ``take`` (``DELETE ... RETURNING``) and ``swap`` (``UPDATE ... WHERE value = expected``) are
  atomic against other connections and other processes.
* TTLs are wall-clock (a :class:`~gateway.clock.Clock`, seconds since the epoch): a monotonic
  clock means nothing to another process.
* ``busy_timeout`` is short (250 ms) because callers run on the event loop and fail closed: a
  database locked for longer is reported as :class:`StoreUnavailable`, not waited for.

Signing keys live in the file, so it (and the ``-wal``/``-shm`` files, which SQLite creates with
the main file's mode, and any parent directory created here) is owner-only.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from gateway.clock import Clock, SystemClock
from gateway.store import StoreUnavailable
from gateway.store.sqlite_file import open_database

_BUSY_TIMEOUT_MS = 250
# Expired ephemeral keys are deleted lazily, once every this many ephemeral writes.
_PURGE_EVERY = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    collection TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (collection, record_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ephemeral (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ephemeral_expires_at ON ephemeral (expires_at);
CREATE TABLE IF NOT EXISTS list_items (
    key        TEXT NOT NULL,
    item       TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS list_items_key ON list_items (key);
"""

_ADD = """
INSERT INTO ephemeral (key, value, expires_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
WHERE ephemeral.expires_at <= ?
"""
_PUT = """
INSERT INTO ephemeral (key, value, expires_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
"""
_SWAP = """
UPDATE ephemeral SET value = ?, expires_at = ?
WHERE key = ? AND value = ? AND expires_at > ?
"""
_PUT_RECORD = """
INSERT INTO records (collection, record_id, value) VALUES (?, ?, ?)
ON CONFLICT (collection, record_id) DO UPDATE SET value = excluded.value
"""


class SQLiteStore:
    """The :class:`~gateway.store.Store` protocol on one SQLite file.

    Calls run synchronously on the caller's thread (sub-millisecond local I/O; a thread hop
    would cost more than the query). One object holds one connection and is meant for one
    event loop; open another object (or process) for concurrent access. TTLs are measured on
    ``clock`` (the system clock by default; a test passes a :class:`~gateway.clock.FrozenClock`).
    """

    def __init__(self, path: str, clock: Clock | None = None) -> None:
        self.path = path
        self._clock = clock or SystemClock()
        self._writes = 0
        try:
            self._db = open_database(path, busy_timeout_ms=_BUSY_TIMEOUT_MS, synchronous="NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open SQLite store {path!r}: {exc}") from exc

    # -- plumbing ------------------------------------------------------------------------------
    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {self.path!r}: {exc}") from exc

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one write statement; return how many rows it changed."""
        try:
            return self._db.execute(sql, params).rowcount
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {self.path!r}: {exc}") from exc

    def _wrote_ephemeral(self, now: float) -> None:
        self._writes += 1
        if self._writes % _PURGE_EVERY == 0:
            self._write("DELETE FROM ephemeral WHERE expires_at <= ?", (now,))
            self._write("DELETE FROM list_items WHERE expires_at <= ?", (now,))

    # -- durable records -----------------------------------------------------------------------
    async def get_record(self, collection: str, record_id: str) -> str | None:
        rows = self._rows(
            "SELECT value FROM records WHERE collection = ? AND record_id = ?", (collection, record_id)
        )
        return rows[0][0] if rows else None

    async def put_record(self, collection: str, record_id: str, value: str) -> None:
        self._write(_PUT_RECORD, (collection, record_id, value))

    async def delete_record(self, collection: str, record_id: str) -> bool:
        return (
            self._write("DELETE FROM records WHERE collection = ? AND record_id = ?", (collection, record_id))
            > 0
        )

    async def list_records(self, collection: str) -> dict[str, str]:
        rows = self._rows("SELECT record_id, value FROM records WHERE collection = ?", (collection,))
        return {record_id: value for record_id, value in rows}

    # -- ephemeral keys ------------------------------------------------------------------------
    async def add(self, key: str, value: str, ttl: float) -> bool:
        now = self._clock.now()
        inserted = self._write(_ADD, (key, value, now + ttl, now)) == 1
        self._wrote_ephemeral(now)
        return inserted

    async def get(self, key: str) -> str | None:
        rows = self._rows(
            "SELECT value FROM ephemeral WHERE key = ? AND expires_at > ?", (key, self._clock.now())
        )
        return rows[0][0] if rows else None

    async def put(self, key: str, value: str, ttl: float) -> None:
        now = self._clock.now()
        self._write(_PUT, (key, value, now + ttl))
        self._wrote_ephemeral(now)

    async def take(self, key: str) -> str | None:
        # fetchall() runs the statement to completion, which is what commits it.
        rows = self._rows("DELETE FROM ephemeral WHERE key = ? RETURNING value, expires_at", (key,))
        if not rows:
            return None
        value, expires_at = rows[0]
        return value if expires_at > self._clock.now() else None

    async def delete(self, key: str) -> None:
        self._write("DELETE FROM ephemeral WHERE key = ?", (key,))

    async def swap(self, key: str, expected: str, value: str, ttl: float) -> bool:
        now = self._clock.now()
        return self._write(_SWAP, (value, now + ttl, key, expected, now)) == 1

    async def append(self, key: str, item: str, ttl: float) -> None:
        now = self._clock.now()
        self._write("INSERT INTO list_items (key, item, expires_at) VALUES (?, ?, ?)", (key, item, now + ttl))
        self._wrote_ephemeral(now)

    async def items(self, key: str) -> list[str]:
        sql = "SELECT item FROM list_items WHERE key = ? AND expires_at > ? ORDER BY rowid"
        return [row[0] for row in self._rows(sql, (key, self._clock.now()))]

    # -- lifecycle -----------------------------------------------------------------------------
    async def ping(self) -> None:
        self._rows("SELECT 1 FROM ephemeral LIMIT 1")

    async def close(self) -> None:
        self._db.close()
