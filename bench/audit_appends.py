"""Audit appends per second on SQLite and on PostgreSQL: one event per commit, batches, and what
chaining costs.

    .venv/bin/python bench/audit_appends.py [--single 2000] [--batched 50000] [--batch 500]
        [--callers 64] [--dir DIR] [--no-postgres]

Every figure is measured in the same run, on a fresh file in the same directory (``--dir``, a temporary
one by default: put it on the disk the trail will live on), with the trail's own settings (WAL,
``synchronous=FULL``: every commit waits for the disk):

1. ``durable``: ``AuditLog.durable`` one event at a time, as ``/token`` does: the event made, the log
   line skipped (logger off), the buffer, the worker thread, the chained append, the commit.
   Then ``--callers`` tasks doing the same at once: waiting callers find their events written by
   the commit before theirs (group commit), as concurrent token requests do.
2. ``store, one per commit``: ``SQLiteAuditStore.append([event])``: read the head, hash, insert,
   update the head, commit.
3. ``store, batched``: ``append`` of ``--batch`` events per commit, as the flusher writes.
4. ``record``: ``AuditLog.record`` alone (what a request pays for a buffered event).

The baseline is a plain ``INSERT`` of the same canonical body into a table of the same columns, no
hash, no head, no worker thread, on the same pragmas: one row per commit, then ``--batch`` rows per
commit. The ratios say what the chain and the thread hop cost on top of the disk.

Then, in the same run, figures 1 to 3 and the baseline on PostgreSQL (``PostgresAuditStore``, the trail every
replica shares): a private server started like the tests' (``tests/support/postgres_servers.py``)
but with ``fsync`` on, its data under ``--dir`` too, so its commits wait for the same disk; each figure
on a fresh database with the trail's tables (``mcp-gateway migrate``'s), over loopback TCP.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.audit import AuditLog  # noqa: E402
from gateway.audit.chain import canonical  # noqa: E402
from gateway.audit.events import AuditEvent, EventMaker  # noqa: E402
from gateway.audit.postgres_store import PostgresAuditStore  # noqa: E402
from gateway.audit.sqlite_store import SQLiteAuditStore  # noqa: E402
from gateway.audit.store import AuditStore  # noqa: E402
from gateway.audit.trail import AuditTrail  # noqa: E402
from gateway.clock import SystemClock  # noqa: E402
from tests.support.postgres_servers import migrate, postgres_server  # noqa: E402

Fresh = Callable[[str], AuditStore]
"""A new, empty trail for one figure, named after it."""

FIELDS = {"grant": "client_credentials", "client_id": "bench-agent", "sub": "bench-agent",
          "audience": "https://gw.example/mcp", "scope": "tools:read weather:read", "jti": "x" * 24}  # fmt: skip


def events(maker: EventMaker, count: int) -> list[AuditEvent]:
    return [maker.new_event("token_issued", "granted", FIELDS, via="agent", actor=None) for _ in range(count)]


async def timed(count: int, work: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await work()
    return count / (time.perf_counter() - started)


async def durable(fresh: Fresh, count: int, callers: int = 1) -> float:
    """``callers`` tasks at once, as concurrent requests at ``/token``: they share commits."""
    store = fresh(f"durable{callers}")
    maker = EventMaker(SystemClock())
    audit = AuditLog(logging.getLogger("bench.silent"), trail=AuditTrail(store, maker), maker=maker)

    async def caller() -> None:
        for _ in range(count // callers):
            await audit.durable("token_issued", outcome="granted", **FIELDS)

    async def work() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(callers):
                group.start_soon(caller)

    rate = await timed(count, work)
    await store.close()
    return rate


async def store_appends(fresh: Fresh, name: str, count: int, batch: int) -> float:
    store = fresh(name)
    batches = [events(EventMaker(SystemClock()), batch) for _ in range(count // batch)]

    async def work() -> None:
        for chunk in batches:
            await store.append(chunk)

    rate = await timed(len(batches) * batch, work)
    await store.close()
    return rate


async def records(count: int) -> float:
    maker = EventMaker(SystemClock())
    audit = AuditLog(logging.getLogger("bench.silent"), trail=AuditTrail(SQLiteAuditStore(":memory:"), maker,
                     max_buffered=count + 1), maker=maker)  # fmt: skip

    async def work() -> None:
        for _ in range(count):
            audit.record("token_issued", outcome="granted", **FIELDS)

    return await timed(count, work)


def plain_rows(count: int) -> list[tuple[object, ...]]:
    """What the baselines insert: the columns of the trail's events, the body canonical, no hash."""
    made = events(EventMaker(SystemClock()), count)
    agent = "bench-agent"
    return [
        (e.event_id, e.at, e.type, e.outcome, agent, agent, None, "", "", canonical(e.to_json()))
        for e in made
    ]


PLAIN_COLUMNS = "event_id, at, type, outcome, client_id, subject, tool, prev_hash, hash, body"


def plain_inserts(folder: Path, name: str, count: int, batch: int) -> float:
    db = sqlite3.connect(folder / f"{name}.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(
        "CREATE TABLE plain (seq INTEGER PRIMARY KEY, event_id TEXT, at REAL, type TEXT, outcome TEXT,"
        " client_id TEXT, subject TEXT, tool TEXT, prev_hash TEXT, hash TEXT, body TEXT)"
    )
    rows = plain_rows(count)
    sql = f"INSERT INTO plain ({PLAIN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    started = time.perf_counter()
    for start in range(0, count - count % batch, batch):
        db.execute("BEGIN")
        db.executemany(sql, rows[start : start + batch])
        db.execute("COMMIT")
    rate = (count - count % batch) / (time.perf_counter() - started)
    db.close()
    return rate


async def plain_postgres_inserts(url: str, count: int, batch: int) -> float:
    """The same baseline on PostgreSQL: a table with the same columns and only its primary key."""
    db = await asyncpg.connect(url)
    await db.execute(
        "CREATE TABLE plain (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id text, at float8,"
        " type text, outcome text, client_id text, subject text, tool text, prev_hash text, hash text, body text)"
    )
    rows = plain_rows(count)
    sql = f"INSERT INTO plain ({PLAIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    started = time.perf_counter()
    for start in range(0, count - count % batch, batch):
        async with db.transaction():
            await db.executemany(sql, rows[start : start + batch])
    rate = (count - count % batch) / (time.perf_counter() - started)
    await db.close()
    return rate


@contextmanager
def postgres_databases(folder: str | None) -> Iterator[Callable[[str], str]]:
    """A private PostgreSQL with ``fsync`` on, its data in ``folder`` (a temporary folder of its own:
    under root the server runs as ``postgres``); each database asked for a fresh copy of a migrated
    one (its URL)."""
    with postgres_server(fsync=True, folder=folder) as server:
        server.sql("CREATE DATABASE bench_migrated")
        migrate(server.url("bench_migrated"))
        yield lambda name: server.url(server.new_database(name, "bench_migrated"))


async def figures_on(fresh: Fresh, args: argparse.Namespace) -> dict[str, float]:
    """Figures 1 to 3 on the trails ``fresh`` makes."""
    return {
        "durable (AuditLog.durable, one caller)": await durable(fresh, args.single),
        f"durable, {args.callers} concurrent callers": await durable(fresh, args.batched, args.callers),
        "store, one per commit": await store_appends(fresh, "single", args.single, 1),
        f"store, batched ({args.batch} per commit)": await store_appends(
            fresh, "batched", args.batched, args.batch
        ),
    }


async def run(args: argparse.Namespace) -> None:
    logging.getLogger("bench.silent").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        on_sqlite = await figures_on(
            lambda name: SQLiteAuditStore(str(folder / f"{name}.audit.sqlite3")), args
        )
        figures = {
            **on_sqlite,
            "baseline: plain INSERT, one per commit": plain_inserts(folder, "plain1", args.single, 1),
            f"baseline: plain INSERT, {args.batch} per commit": plain_inserts(
                folder, "plainb", args.batched, args.batch
            ),
            "record (buffered, no I/O)": await records(args.batched),
        }
        on_postgres: dict[str, float] = {}
        if not args.no_postgres:
            with postgres_databases(args.dir) as database:
                on_postgres = await figures_on(lambda name: PostgresAuditStore(database(name)), args)
                on_postgres["baseline: plain INSERT, one per commit"] = await plain_postgres_inserts(
                    database("plain1"), args.single, 1
                )
                on_postgres[
                    f"baseline: plain INSERT, {args.batch} per commit"
                ] = await plain_postgres_inserts(database("plainb"), args.batched, args.batch)
    width = max(map(len, figures))
    print(f"{'':<{width}}  {'SQLite':>12}  {'PostgreSQL':>12}  (appends/s)")
    for name, rate in figures.items():
        other = f"{on_postgres[name]:>12,.0f}" if name in on_postgres else f"{'':>12}"
        print(f"{name:<{width}}  {rate:>12,.0f}  {other}")
    single = figures["store, one per commit"] / figures["baseline: plain INSERT, one per commit"]
    batched = (
        figures[f"store, batched ({args.batch} per commit)"]
        / figures[f"baseline: plain INSERT, {args.batch} per commit"]
    )
    print(f"SQLite chained / plain: {single:.2f} one per commit, {batched:.2f} batched")
    if on_postgres:
        single = on_postgres["store, one per commit"] / on_postgres["baseline: plain INSERT, one per commit"]
        batched = (
            on_postgres[f"store, batched ({args.batch} per commit)"]
            / on_postgres[f"baseline: plain INSERT, {args.batch} per commit"]
        )
        print(f"PostgreSQL chained / plain: {single:.2f} one per commit, {batched:.2f} batched")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=2000, help="events appended one per commit")
    parser.add_argument("--batched", type=int, default=50_000, help="events appended in batches")
    parser.add_argument("--batch", type=int, default=500, help="events per batch (the flusher's)")
    parser.add_argument("--callers", type=int, default=64, help="concurrent durable callers")
    parser.add_argument("--dir", help="where the files go (default: a temporary directory)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only (no PostgreSQL installed)")
    anyio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
