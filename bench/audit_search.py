"""Searching a large audit trail: p50/p95 of typical ``audit search`` pages on SQLite and PostgreSQL.

    .venv/bin/python bench/audit_search.py [--events 1000000] [--repeats 200] [--page 100]
        [--dir DIR] [--no-postgres]

Each backend gets a fresh trail filled with ``--events`` events through the trail's own code
(``append`` in batches of 2,000: the events made by ``EventMaker``, canonical JSON, chained, the
search columns indexed), so the rows are the ones a gateway writes. The mix, the same on both (one
seed): half ``token_issued``, 30 % ``tool_call`` (granted or denied, 100 tools), 10 %
``token_refused``, 5 % ``sign_in``, 3 % ``call_pending``, 2 % ``access_denied``; 200 clients and 2,000
people; one event every 2.6 s, so a million span a month. The filling store waits up to 30 s per
batch (the trail's own deadline is for requests); the searches run on a store opened as the gateway
opens it. PostgreSQL is a private server (``tests/support/postgres_servers.py``), analysed after the
fill as its autovacuum would; SQLite is left as the gateway leaves it.

Searches, ``--repeats`` times each with parameters drawn at random, one page (``--page`` events)
each, timed around ``read`` as ``audit search`` calls it:

* baseline: a page with no filter, from a random place in the trail;
* newest page (``audit tail``);
* one client over one day;
* one tool; one type (``access_denied``); one person; denied outcomes over one hour;
* a client that never called (every index says "none" at once; a scan would read everything).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.audit.events import AuditEvent, EventMaker  # noqa: E402
from gateway.audit.postgres_store import PostgresAuditStore  # noqa: E402
from gateway.audit.sqlite_store import SQLiteAuditStore  # noqa: E402
from gateway.audit.store import AuditFilter, AuditStore  # noqa: E402
from gateway.clock import FrozenClock  # noqa: E402
from tests.support.postgres_servers import migrate, postgres_server  # noqa: E402

START = 1_700_000_000.0
STEP = 2.6
DAY = 86_400.0
BATCH = 2000
CLIENTS = [f"agent-{n:03d}" for n in range(200)]
PEOPLE = [f"person-{n:04d}@example.com" for n in range(2000)]
TOOLS = [f"server{n % 10}__tool_{n:02d}" for n in range(100)]


def _event(maker: EventMaker, rng: random.Random) -> AuditEvent:
    client, person, roll = rng.choice(CLIENTS), rng.choice(PEOPLE), rng.random()
    if roll < 0.5:
        fields: dict[str, Any] = {"grant": "client_credentials", "client_id": client, "sub": person,
                                  "scope": "tools:read", "jti": f"{rng.getrandbits(96):024x}"}  # fmt: skip
        return maker.new_event("token_issued", "granted", fields, via="agent", actor=None)
    if roll < 0.8:
        outcome = "denied" if rng.random() < 0.1 else "granted"
        fields = {"client_id": client, "sub": person, "tool": rng.choice(TOOLS), "arguments_bytes": 120}
        return maker.new_event("tool_call", outcome, fields, via="agent", actor=None)
    if roll < 0.9:
        fields = {"client_id": client, "reason": "invalid_client", "grant": "client_credentials"}
        return maker.new_event("token_refused", "denied", fields, via="agent", actor=None)
    if roll < 0.95:
        outcome = "denied" if rng.random() < 0.2 else "granted"
        return maker.new_event(
            "sign_in", outcome, {"sub": person, "method": "password"}, via="web", actor=None
        )
    if roll < 0.98:
        fields = {"client_id": client, "sub": person, "tool": rng.choice(TOOLS), "call_id": "c1"}
        return maker.new_event("call_pending", "held", fields, via="agent", actor=None)
    fields = {"client_id": client, "by": rng.choice(PEOPLE), "request_id": "r1"}
    return maker.new_event("access_denied", "denied", fields, via="console", actor=None)


async def fill(store: AuditStore, count: int) -> float:
    """``count`` events appended in batches; events per second."""
    clock, rng = FrozenClock(START), random.Random(7)
    maker = EventMaker(clock)
    started = time.perf_counter()
    for done in range(0, count, BATCH):
        batch = []
        for _ in range(min(BATCH, count - done)):
            batch.append(_event(maker, rng))
            clock.advance(STEP)
        await store.append(batch)
    return count / (time.perf_counter() - started)


def searches(count: int, page: int) -> dict[str, Callable[[random.Random], tuple[int, AuditFilter]]]:
    """Each search: given a random source, the ``after`` and the filter of one page."""
    span = count * STEP

    def day(rng: random.Random) -> float:
        return START + rng.uniform(0, max(0.0, span - DAY))

    def since(rng: random.Random) -> tuple[int, AuditFilter]:
        start = day(rng)
        return 0, AuditFilter(since=start, until=start + DAY, client_id=rng.choice(CLIENTS))

    def denied(rng: random.Random) -> tuple[int, AuditFilter]:
        start = day(rng)
        return 0, AuditFilter(since=start, until=start + 3600, outcome="denied")

    return {
        "baseline: a page, no filter, random place": lambda rng: (
            rng.randrange(max(1, count - page)),
            AuditFilter(),
        ),
        "newest page (audit tail)": lambda rng: (max(0, count - page), AuditFilter()),
        "one client over one day": since,
        "one tool": lambda rng: (0, AuditFilter(tool=rng.choice(TOOLS))),
        "one type (access_denied)": lambda rng: (0, AuditFilter(types=("access_denied",))),
        "one person": lambda rng: (0, AuditFilter(subject=rng.choice(PEOPLE))),
        "denied over one hour": denied,
        "a client that never called": lambda rng: (0, AuditFilter(client_id="nobody")),
    }


async def measure(store: AuditStore, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """p50 and p95 in milliseconds of each search."""
    figures = {}
    for name, draw in searches(args.events, args.page).items():
        rng, timings = random.Random(name), []
        for _ in range(args.repeats):
            after, criteria = draw(rng)
            started = time.perf_counter()
            await store.read(after, args.page, criteria)
            timings.append((time.perf_counter() - started) * 1000)
        cuts = statistics.quantiles(timings, n=20)
        figures[name] = (statistics.median(timings), cuts[18])
    return figures


async def on_backend(fresh: Callable[[bool], AuditStore], args: argparse.Namespace,
                     settle: Callable[[], Awaitable[None]] | None = None) -> tuple[float, dict[str, tuple[float, float]]]:  # fmt: skip
    filler = fresh(True)
    rate = await fill(filler, args.events)
    await filler.close()
    if settle is not None:
        await settle()
    store = fresh(False)
    figures = await measure(store, args)
    await store.close()
    return rate, figures


@contextmanager
def postgres_database(folder: str | None) -> Iterator[str]:
    with postgres_server(fsync=True, folder=folder) as server:
        server.sql("CREATE DATABASE bench_search")
        migrate(server.url("bench_search"))
        yield server.url("bench_search")


async def analyse(url: str) -> None:
    connection = await asyncpg.connect(url)
    await connection.execute("VACUUM ANALYZE audit_events")
    await connection.close()


async def run(args: argparse.Namespace) -> None:
    results: dict[str, tuple[float, dict[str, tuple[float, float]]]] = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = str(Path(tmp) / "search.audit.sqlite3")
        results["SQLite"] = await on_backend(lambda filling: SQLiteAuditStore(path), args)
    if not args.no_postgres:
        with postgres_database(args.dir) as url:

            def fresh(filling: bool) -> AuditStore:
                return PostgresAuditStore(url, deadline=30.0) if filling else PostgresAuditStore(url)

            results["PostgreSQL"] = await on_backend(fresh, args, lambda: analyse(url))
    print(f"{args.events:,} events, {args.repeats} searches each, {args.page} events a page")
    for backend, (rate, _) in results.items():
        print(f"fill {backend}: {rate:,.0f} events/s (appends of {BATCH:,})")
    names = list(searches(args.events, args.page))
    width = max(map(len, names))
    header = "".join(f"  {backend + ' p50':>16}{backend + ' p95':>16}" for backend in results)
    print(f"{'search (ms)':<{width}}{header}")
    for name in names:
        cells = "".join(
            f"  {figures[name][0]:>16.2f}{figures[name][1]:>16.2f}" for _, figures in results.values()
        )
        print(f"{name:<{width}}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in each trail")
    parser.add_argument("--repeats", type=int, default=200, help="times each search runs")
    parser.add_argument("--page", type=int, default=100, help="events a page holds at most")
    parser.add_argument("--dir", help="where the trails go (default: a temporary directory)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only (no PostgreSQL installed)")
    anyio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
