"""What the audit trail's tests share: events to append, a trail whose store can be taken down, and
the hand of someone who edits a SQLite trail behind the gateway's back."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.audit import AuditLog
from gateway.audit.chain import StoredEvent
from gateway.audit.checkpoints import Checkpointer
from gateway.audit.events import AuditEvent, EventMaker
from gateway.audit.sqlite_store import SQLiteAuditStore
from gateway.audit.store import AuditFilter, AuditStore, AuditUnavailable, ChainHead, Checkpoint, Signer
from gateway.audit.trail import AuditTrail, WhenUnavailable
from gateway.audit.verify import Verification, verify_trail
from gateway.clock import FrozenClock
from gateway.key_encryption import KEK_BYTES, LocalKeyProtector
from gateway.signing_keys import SigningKeys, signing_keys
from gateway.store.memory import MemoryStore

START = 1_700_000_000.0
ISSUER = "https://gateway.test"


def made_events(maker: EventMaker, count: int, **fields: Any) -> list[AuditEvent]:
    """``count`` events of a catalogued type, numbered in their fields."""
    return [
        maker.new_event("token_issued", "granted", {"n": n, **fields}, via="agent", actor=None)
        for n in range(count)
    ]


def maker_at(start: float = START) -> EventMaker:
    return EventMaker(FrozenClock(start))


class SwitchableStore:
    """An :class:`AuditStore` that stops answering when told (``down = True``), like a disk that
    filled up or a database that went away; everything else goes to the real store."""

    def __init__(self, store: AuditStore) -> None:
        self.store = store
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise AuditUnavailable("the test took the audit trail down")

    async def append(self, events: Sequence[AuditEvent]) -> ChainHead:
        self._check()
        return await self.store.append(events)

    async def head(self) -> ChainHead:
        self._check()
        return await self.store.head()

    async def read(
        self, after: int = 0, limit: int = 1000, filters: AuditFilter | None = None
    ) -> list[StoredEvent]:
        self._check()
        return await self.store.read(after, limit, filters)

    async def add_checkpoint(self, seq: int, hash: str, at: float, sign: Signer) -> Checkpoint | None:
        self._check()
        return await self.store.add_checkpoint(seq, hash, at, sign)

    async def checkpoints(self, after: int = 0, limit: int = 1000) -> list[Checkpoint]:
        return await self.store.checkpoints(after, limit)

    async def last_checkpoint(self) -> Checkpoint | None:
        self._check()
        return await self.store.last_checkpoint()

    async def export_position(self, exporter: str) -> int:
        self._check()
        return await self.store.export_position(exporter)

    async def set_export_position(self, exporter: str, seq: int) -> None:
        self._check()
        await self.store.set_export_position(exporter, seq)

    async def prune(self, through: int) -> int:
        self._check()
        return await self.store.prune(through)

    async def pruned(self) -> ChainHead:
        self._check()
        return await self.store.pruned()

    async def close(self) -> None:
        await self.store.close()


def edit_file(path: Path, sql: str, *params: Any) -> None:
    """Change the trail's file directly, as someone with write access to the disk could."""
    with sqlite3.connect(path) as db:
        db.execute(sql, params)
    db.close()


def row(path: Path, seq: int) -> tuple[Any, ...]:
    with sqlite3.connect(path) as db:
        found: tuple[Any, ...] = db.execute("SELECT * FROM audit_events WHERE seq = ?", (seq,)).fetchone()
    db.close()
    return found


@dataclass
class TrailWorld:
    """One gateway's trail, without the gateway: a frozen clock, its signing keys on a memory store,
    a SQLite trail file (that the test may take down), the checkpointer, the trail and its log."""

    path: Path
    clock: FrozenClock
    keys: SigningKeys
    store: SwitchableStore
    checkpoints: Checkpointer
    trail: AuditTrail
    audit: AuditLog

    async def verification(self) -> Verification:
        published = (await self.keys.managers["gateway"].snapshot()).verification_keys
        return await verify_trail(self.store, published, ISSUER)

    async def record(self, count: int, **fields: Any) -> None:
        """``count`` events recorded and written; a checkpoint when one is due."""
        for n in range(count):
            self.audit.record("token_issued", outcome="granted", n=n, **fields)
        await self.trail.tick()


def trail_world(
    folder: Path,
    *,
    when_unavailable: WhenUnavailable = "fail_closed",
    max_buffered: int = 100,
    every_events: int = 5,
    every_seconds: float = 60,
    durable: AuditStore | None = None,
) -> TrailWorld:
    """``durable``: the trail's store (by default a SQLite file in ``folder``)."""
    clock = FrozenClock(START)
    keys = signing_keys(
        MemoryStore(clock),
        clock,
        LocalKeyProtector(secrets.token_bytes(KEK_BYTES)),
        own_audiences=(ISSUER,),
        publish_lead=600,
        retire_after=360,
        refresh_interval=15,
    )
    path = folder / "trail.audit.sqlite3"
    store = SwitchableStore(durable or SQLiteAuditStore(str(path)))
    maker = EventMaker(clock)
    checkpoints = Checkpointer(
        store,
        keys.rings["gateway"],
        maker,
        clock,
        issuer=ISSUER,
        every_events=every_events,
        every_seconds=every_seconds,
    )
    trail = AuditTrail(
        store, maker, when_unavailable=when_unavailable, max_buffered=max_buffered, checkpoints=checkpoints
    )
    return TrailWorld(path, clock, keys, store, checkpoints, trail, AuditLog(trail=trail, maker=maker))
