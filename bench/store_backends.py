"""PostgreSQL drivers for the store, measured on its hot operations: asyncpg against psycopg 3.

    .venv/bin/python bench/store_backends.py [--ops 20000] [--concurrency 64] [--pool 16] [--rounds 2]

A private PostgreSQL (``tests/support/postgres_servers.py``: initdb in a temporary folder, on a
free loopback port) gets the store's schema; each driver then runs the statements of
``gateway/store/postgres.py`` through its own pool of ``--pool`` connections (autocommit, statements
prepared by the driver), from ``--concurrency`` callers on one uvloop event loop, as the gateway
runs. As in the store, callers queue at a semaphore as large as the pool (``--no-gate``: in the
driver's pool instead), and asyncpg's pool runs no reset query when a connection comes back (the
store keeps no session state; the default reset is one more round trip per call).

Operations: ``get`` (a live key), ``take`` (each key once, so every take finds a value), ``add``
(a fresh key each time), ``put_record`` and ``get_record``. The drivers take turns for ``--rounds``
rounds on the same server and database; the best round of each counts. Prints ops/s per operation
and driver, and the ratio asyncpg / psycopg.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import psycopg
import psycopg_pool
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.store.postgres_schema import MIGRATIONS  # noqa: E402
from tests.support.postgres_servers import postgres_server  # noqa: E402

# The store's statements, in each driver's placeholder style.
ADD = """INSERT INTO ephemeral (key, value, expires_at)
VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
WHERE ephemeral.expires_at <= clock_timestamp() RETURNING true"""
GET = "SELECT value FROM ephemeral WHERE key = $1 AND expires_at > clock_timestamp()"
PUT = """INSERT INTO ephemeral (key, value, expires_at)
VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"""
TAKE = "DELETE FROM ephemeral WHERE key = $1 RETURNING value, expires_at > clock_timestamp()"
PUT_RECORD = """INSERT INTO records (collection, record_id, value) VALUES ($1, $2, $3)
ON CONFLICT (collection, record_id) DO UPDATE SET value = excluded.value"""
GET_RECORD = "SELECT value FROM records WHERE collection = $1 AND record_id = $2"


def percent_style(sql: str) -> str:
    for n in range(3, 0, -1):
        sql = sql.replace(f"${n}", "%s")
    return sql


class Driver(Protocol):
    name: str

    async def open(self, url: str, size: int) -> None: ...
    async def row(self, sql: str, *args: Any) -> tuple[Any, ...] | None: ...
    async def run(self, sql: str, *args: Any) -> None: ...
    async def close(self) -> None: ...


async def keep_session(connection: asyncpg.Connection) -> None:
    return None


class Asyncpg:
    name = "asyncpg"

    async def open(self, url: str, size: int) -> None:
        # As the store does: no reset query per release (the store never changes session state).
        self.pool = await asyncpg.create_pool(url, min_size=size, max_size=size, reset=keep_session)

    async def row(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        found = await self.pool.fetchrow(sql, *args)
        return tuple(found) if found is not None else None

    async def run(self, sql: str, *args: Any) -> None:
        await self.pool.execute(sql, *args)

    async def close(self) -> None:
        await self.pool.close()


class Psycopg:
    name = "psycopg"

    async def open(self, url: str, size: int) -> None:
        self.pool = psycopg_pool.AsyncConnectionPool(
            url, min_size=size, max_size=size, kwargs={"autocommit": True}, open=False
        )
        await self.pool.open(wait=True)

    async def row(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        async with self.pool.connection() as connection:
            cursor = await connection.execute(percent_style(sql), args)
            return await cursor.fetchone()

    async def run(self, sql: str, *args: Any) -> None:
        async with self.pool.connection() as connection:
            await connection.execute(percent_style(sql), args)

    async def close(self) -> None:
        await self.pool.close()


async def timed(
    calls: list[Callable[[], Awaitable[object]]], concurrency: int, gate: asyncio.Semaphore | None
) -> float:
    """ops/s of ``calls`` run by ``concurrency`` workers, each call through ``gate`` if given."""
    queue = iter(calls)

    async def worker() -> None:
        for call in queue:
            if gate is None:
                await call()
            else:
                async with gate:
                    await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(calls) / (time.perf_counter() - started)


async def round_of(driver: Driver, url: str, options: argparse.Namespace) -> dict[str, float]:
    await driver.open(url, options.pool)
    gate = None if options.no_gate else asyncio.Semaphore(options.pool)
    keys = [f"{uuid.uuid4().hex[:8]}:{i}" for i in range(options.ops)]
    operations: dict[str, Callable[[str], Awaitable[object]]] = {
        "get": lambda key: driver.row(GET, key),
        "take": lambda key: driver.row(TAKE, key),  # each key once: every take finds a value
        "add": lambda key: driver.row(ADD, f"add:{key}", "v" * 64, 600.0),
        "put_record": lambda key: driver.run(PUT_RECORD, "clients", key, "{}" * 200),
        "get_record": lambda key: driver.row(GET_RECORD, "clients", key),
    }
    try:
        setup = [lambda k=k: driver.run(PUT, k, "v" * 64, 600.0) for k in keys]
        await timed(setup, options.concurrency, gate)  # type: ignore[arg-type]
        results = {}
        for name, operation in operations.items():
            calls = [lambda k=k, op=operation: op(k) for k in keys]
            results[name] = await timed(calls, options.concurrency, gate)  # type: ignore[arg-type]
        return results
    finally:
        await driver.close()


async def measure(url: str, options: argparse.Namespace) -> dict[str, dict[str, float]]:
    connection = await asyncpg.connect(url)
    for migration in MIGRATIONS:
        await connection.execute(migration.sql)
    await connection.close()
    best: dict[str, dict[str, float]] = {}
    for _ in range(options.rounds):
        for driver in (Asyncpg(), Psycopg()):
            found = await round_of(driver, url, options)
            kept = best.setdefault(driver.name, {})
            for operation, rate in found.items():
                kept[operation] = max(kept.get(operation, 0.0), rate)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--pool", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--no-gate", action="store_true", help="no semaphore in front: callers queue in the driver's pool"
    )
    args = parser.parse_args()
    print(f"asyncpg {asyncpg.__version__}, psycopg {psycopg.__version__} ({psycopg.pq.__impl__})")
    with postgres_server() as server:
        database = server.new_database("bench")
        best = uvloop.run(measure(server.url(database), args))
    queueing = (
        "in the driver's pool" if args.no_gate else "at a semaphore of the pool's size, as the store does"
    )
    print(f"{args.ops} ops per operation, {args.concurrency} concurrent callers queueing {queueing}")
    print(f"{'operation':<12}{'asyncpg ops/s':>15}{'psycopg ops/s':>15}{'ratio':>8}")
    for operation in best["asyncpg"]:
        fast, other = best["asyncpg"][operation], best["psycopg"][operation]
        print(f"{operation:<12}{fast:>15,.0f}{other:>15,.0f}{fast / other:>8.2f}")


if __name__ == "__main__":
    main()
