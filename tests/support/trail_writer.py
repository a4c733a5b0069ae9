"""Events written into a running gateway's audit trail from outside it, as another gateway process
writes them: an ``AuditLog`` of its own on the same SQLite trail file (the trail serialises appends
from any number of writers). For events the test needs but cannot cause, such as the ``tool_call``
events of calls an upstream failed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio

from gateway.audit import AuditLog
from gateway.audit.events import EventMaker
from gateway.audit.sqlite_store import SQLiteAuditStore
from gateway.audit.store import AuditFilter
from gateway.audit.trail import AuditTrail
from gateway.clock import SystemClock


def trail_of(store_url: str) -> Path:
    """The trail file beside a ``sqlite:///`` store, where the gateway keeps it by default."""
    return Path(store_url.removeprefix("sqlite:///")).with_suffix(".audit.sqlite3")


async def record(trail_path: Path, event: str, count: int = 1, **fields: Any) -> None:
    """``count`` events of ``event`` (``outcome`` and the rest in ``fields``, numbered ``n``)."""
    store = SQLiteAuditStore(str(trail_path))
    trail = AuditTrail(store, EventMaker(SystemClock()))
    log = AuditLog(trail=trail, maker=trail.maker)
    try:
        for n in range(count):
            log.record(event, **fields, n=n)
        await trail.flush()
    finally:
        await store.close()


def record_blocking(trail_path: Path, event: str, count: int = 1, **fields: Any) -> None:
    """:func:`record` from a thread of its own (the caller may be running an event loop)."""

    async def write() -> None:
        await record(trail_path, event, count, **fields)

    worker = threading.Thread(target=anyio.run, args=(write,))
    worker.start()
    worker.join(60)


async def events(trail_path: Path, **criteria: Any) -> list[dict[str, Any]]:
    """Every event matching ``criteria`` (:class:`AuditFilter`'s), as ``audit export`` writes them."""
    store = SQLiteAuditStore(str(trail_path))
    try:
        return [stored.to_json() for stored in await store.read(0, 10_000, AuditFilter(**criteria))]
    finally:
        await store.close()
