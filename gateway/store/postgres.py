"""PostgreSQL store: a real database for the durable records, shared by every replica.

Opened by ``postgresql://`` or ``postgres://`` URLs (:mod:`gateway.store.postgres_connection`);
the schema is created and upgraded by ``mcp-gateway migrate``
(:mod:`gateway.store.postgres_migrations`), and the store refuses to work on a schema that is not
current, saying so in one line.

The driver is asyncpg, chosen by measurement (``bench/store_backends.py``: the store's statements
through each driver's pool, on the same local server). Against psycopg 3 with its pool, asyncpg
did 1.2 to 1.6 times the operations per second on get, take, add, put_record and get_record with
64 callers over 16 connections, and 1.2 to 1.4 times with one caller; when callers queue in the
driver's pool rather than at a semaphore, psycopg's pool falls further behind (asyncpg 1.8 to 2.3
times). asyncpg's pool also suits failing closed: it connects lazily, on acquire, so a stopped
server fails the call at once instead of a background worker retrying, and a connection the server
dropped is noticed by the event loop and replaced on the next acquire. Its default reset query on
every release is one more round trip per call; this store changes no session state, so it skips it.

Every operation is one autocommit statement, so atomicity is the database's:

* ``add``: ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` the existing key has expired; of many
  concurrent adds the first inserts, the others wait on its row and then find it live;
* ``take``: ``DELETE ... RETURNING``: one caller deletes the row, the others find none;
* ``swap``: ``UPDATE ... WHERE value = expected``: the others re-check the row the winner changed;
* ``append``: one ``INSERT`` per item (ordered by an identity column), so none waits for another;
  each item lives for its own TTL, as on SQLite.

TTLs are the database server's clock (``clock_timestamp()``), which every replica shares; a
``clock`` handed to :func:`~gateway.store.factory.open_store` is not used. Expired keys are deleted
lazily, a batch once every so many writes.

Fail closed, fast: each call goes through a :class:`~gateway.store.call_gate.CallGate` (16
connections and as many calls in flight per store by default, one deadline per call: 0.4 s unless
the setting ``store_deadline_ms`` says otherwise), and
connecting, each statement on the client and each statement on the server (``statement_timeout``)
are bounded by the same deadline. A stopped, frozen or unreachable server makes every call raise
:class:`~gateway.store.StoreUnavailable` by then; later calls reconnect, so the same store works
again when the server is back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from gateway.store import StoreUnavailable
from gateway.store.postgres_calls import PostgresCalls
from gateway.store.postgres_connection import Connection

T = TypeVar("T")

# Expired keys and list items are deleted once every this many ephemeral writes, 1000 at a time.
_PURGE_EVERY = 256

_ADD = """
INSERT INTO ephemeral (key, value, expires_at) VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
WHERE ephemeral.expires_at <= clock_timestamp()
RETURNING true
"""
_PUT = """
INSERT INTO ephemeral (key, value, expires_at) VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
"""
_GET = "SELECT value FROM ephemeral WHERE key = $1 AND expires_at > clock_timestamp()"
_TAKE = "DELETE FROM ephemeral WHERE key = $1 RETURNING value, expires_at > clock_timestamp() AS live"
_SWAP = """
UPDATE ephemeral SET value = $4, expires_at = clock_timestamp() + make_interval(secs => $3)
WHERE key = $1 AND value = $2 AND expires_at > clock_timestamp()
RETURNING true
"""
_APPEND = """
INSERT INTO list_items (key, item, expires_at) VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
"""
_ITEMS = "SELECT item FROM list_items WHERE key = $1 AND expires_at > clock_timestamp() ORDER BY id"
_PUT_RECORD = """
INSERT INTO records (collection, record_id, value) VALUES ($1, $2, $3)
ON CONFLICT (collection, record_id) DO UPDATE SET value = excluded.value
"""
_PURGES = (
    """DELETE FROM ephemeral WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM ephemeral WHERE expires_at <= clock_timestamp() LIMIT 1000))""",
    """DELETE FROM list_items WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM list_items WHERE expires_at <= clock_timestamp() LIMIT 1000))""",
)


class PostgresStore:
    """The :class:`~gateway.store.Store` protocol on PostgreSQL.

    Connecting is lazy: the pool is made on the first call, in the event loop that serves, and the
    schema is checked on the first connection that answers (:class:`PostgresCalls`).
    """

    def __init__(self, url: str, *, deadline: float = 0.4, max_connections: int = 16) -> None:
        self._calls = PostgresCalls(url, deadline=deadline, max_connections=max_connections)
        self._writes = 0

    # -- plumbing ------------------------------------------------------------------------------
    async def _run(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        return await self._calls.run(work)

    async def _row(self, sql: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run(lambda connection: connection.fetchrow(sql, *args))
        return row

    async def _rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run(lambda connection: connection.fetch(sql, *args))
        return rows

    async def _execute(self, sql: str, *args: Any) -> None:
        await self._run(lambda connection: connection.execute(sql, *args))

    async def _wrote_ephemeral(self) -> None:
        """Now and then, delete a batch of what has expired; a failure here is not the caller's."""
        self._writes += 1
        if self._writes % _PURGE_EVERY == 0:
            for purge in _PURGES:
                with contextlib.suppress(StoreUnavailable):
                    await self._execute(purge)

    # -- durable records -----------------------------------------------------------------------
    async def get_record(self, collection: str, record_id: str) -> str | None:
        sql = "SELECT value FROM records WHERE collection = $1 AND record_id = $2"
        row = await self._row(sql, collection, record_id)
        return None if row is None else str(row["value"])

    async def put_record(self, collection: str, record_id: str, value: str) -> None:
        await self._execute(_PUT_RECORD, collection, record_id, value)

    async def delete_record(self, collection: str, record_id: str) -> bool:
        sql = "DELETE FROM records WHERE collection = $1 AND record_id = $2 RETURNING true"
        return await self._row(sql, collection, record_id) is not None

    async def list_records(self, collection: str) -> dict[str, str]:
        rows = await self._rows("SELECT record_id, value FROM records WHERE collection = $1", collection)
        return {row["record_id"]: row["value"] for row in rows}

    # -- ephemeral keys ------------------------------------------------------------------------
    async def add(self, key: str, value: str, ttl: float) -> bool:
        added = await self._row(_ADD, key, value, float(ttl)) is not None
        await self._wrote_ephemeral()
        return added

    async def get(self, key: str) -> str | None:
        row = await self._row(_GET, key)
        return None if row is None else str(row["value"])

    async def put(self, key: str, value: str, ttl: float) -> None:
        await self._execute(_PUT, key, value, float(ttl))
        await self._wrote_ephemeral()

    async def take(self, key: str) -> str | None:
        row = await self._row(_TAKE, key)
        return str(row["value"]) if row is not None and row["live"] else None

    async def delete(self, key: str) -> None:
        await self._execute("DELETE FROM ephemeral WHERE key = $1", key)

    async def swap(self, key: str, expected: str, value: str, ttl: float) -> bool:
        return await self._row(_SWAP, key, expected, float(ttl), value) is not None

    async def append(self, key: str, item: str, ttl: float) -> None:
        await self._execute(_APPEND, key, item, float(ttl))
        await self._wrote_ephemeral()

    async def items(self, key: str) -> list[str]:
        return [str(row["item"]) for row in await self._rows(_ITEMS, key)]

    # -- lifecycle -----------------------------------------------------------------------------
    async def ping(self) -> None:
        await self._execute("SELECT 1")

    async def close(self) -> None:
        await self._calls.close()
