"""Audit appends per second on SQLite: one event per commit, batches, and what chaining costs.

    .venv/bin/python bench/audit_appends.py [--single 2000] [--batched 50000] [--batch 500]
        [--callers 64] [--dir DIR]

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
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from gateway.audit import AuditLog
from gateway.audit.chain import canonical
from gateway.audit.events import AuditEvent, EventMaker
from gateway.audit.sqlite_store import SQLiteAuditStore
from gateway.audit.trail import AuditTrail
from gateway.clock import SystemClock

FIELDS = {"grant": "client_credentials", "client_id": "bench-agent", "sub": "bench-agent",
          "audience": "https://gw.example/mcp", "scope": "tools:read weather:read", "jti": "x" * 24}  # fmt: skip


def events(maker: EventMaker, count: int) -> list[AuditEvent]:
    return [maker.new_event("token_issued", "granted", FIELDS, via="agent", actor=None) for _ in range(count)]


async def timed(count: int, work: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await work()
    return count / (time.perf_counter() - started)


async def durable(folder: Path, count: int, callers: int = 1) -> float:
    """``callers`` tasks at once, as concurrent requests at ``/token``: they share commits."""
    store = SQLiteAuditStore(str(folder / f"durable{callers}.audit.sqlite3"))
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


async def store_appends(folder: Path, name: str, count: int, batch: int) -> float:
    store = SQLiteAuditStore(str(folder / f"{name}.audit.sqlite3"))
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


def plain_inserts(folder: Path, name: str, count: int, batch: int) -> float:
    db = sqlite3.connect(folder / f"{name}.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(
        "CREATE TABLE plain (seq INTEGER PRIMARY KEY, event_id TEXT, at REAL, type TEXT, outcome TEXT,"
        " client_id TEXT, subject TEXT, tool TEXT, prev_hash TEXT, hash TEXT, body TEXT)"
    )
    rows = [
        (
            e.event_id,
            e.at,
            e.type,
            e.outcome,
            "bench-agent",
            "bench-agent",
            None,
            "",
            "",
            canonical(e.to_json()),
        )
        for e in events(EventMaker(SystemClock()), count)
    ]
    sql = "INSERT INTO plain (event_id, at, type, outcome, client_id, subject, tool, prev_hash, hash, body)"
    sql += " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    started = time.perf_counter()
    for start in range(0, count - count % batch, batch):
        db.execute("BEGIN")
        db.executemany(sql, rows[start : start + batch])
        db.execute("COMMIT")
    rate = (count - count % batch) / (time.perf_counter() - started)
    db.close()
    return rate


async def run(args: argparse.Namespace) -> None:
    logging.getLogger("bench.silent").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        figures = {
            "durable (AuditLog.durable, one caller)": await durable(folder, args.single),
            f"durable, {args.callers} concurrent callers": await durable(folder, args.batched, args.callers),
            "store, one per commit": await store_appends(folder, "single", args.single, 1),
            f"store, batched ({args.batch} per commit)": await store_appends(
                folder, "batched", args.batched, args.batch
            ),
            "baseline: plain INSERT, one per commit": plain_inserts(folder, "plain1", args.single, 1),
            f"baseline: plain INSERT, {args.batch} per commit": plain_inserts(
                folder, "plainb", args.batched, args.batch
            ),
            "record (buffered, no I/O)": await records(args.batched),
        }
    width = max(map(len, figures))
    for name, rate in figures.items():
        print(f"{name:<{width}}  {rate:>12,.0f} appends/s")
    single = figures["store, one per commit"] / figures["baseline: plain INSERT, one per commit"]
    batched = (
        figures[f"store, batched ({args.batch} per commit)"]
        / figures[f"baseline: plain INSERT, {args.batch} per commit"]
    )
    print(f"chained / plain: {single:.2f} one per commit, {batched:.2f} batched")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=2000, help="events appended one per commit")
    parser.add_argument("--batched", type=int, default=50_000, help="events appended in batches")
    parser.add_argument("--batch", type=int, default=500, help="events per batch (the flusher's)")
    parser.add_argument("--callers", type=int, default=64, help="concurrent durable callers")
    parser.add_argument("--dir", help="where the files go (default: a temporary directory)")
    anyio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
