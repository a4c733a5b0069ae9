"""The audit store contract, proved against every implementation of :class:`AuditStore` (AU-2).

The tests take the store from the ``audit_url`` fixture: a SQLite file and an in-memory SQLite
database today; the PostgreSQL trail adds its URL to :data:`IMPLEMENTATIONS` and passes the same
tests. Those that need two writers on one trail (``shared``) run where the trail can be shared.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from gateway.audit.chain import GENESIS, link
from gateway.audit.events import EventMaker
from gateway.audit.factory import audit_store_url, open_audit_store
from gateway.audit.store import EMPTY, AuditFilter, AuditStore, AuditUnavailable, ChainHead
from gateway.clock import FrozenClock
from tests.support.audit import START, made_events, maker_at

pytestmark = pytest.mark.anyio

IMPLEMENTATIONS = ["sqlite", "memory"]
SHARED = ["sqlite"]
"""The implementations whose trail several processes share."""


def trail_url(kind: str, folder: Path) -> str:
    return {"sqlite": f"sqlite:///{folder / 'trail.audit.sqlite3'}", "memory": "memory://"}[kind]


@pytest.fixture(params=IMPLEMENTATIONS)
def audit_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return trail_url(request.param, tmp_path)


@pytest.fixture
async def store(audit_url: str) -> AsyncIterator[AuditStore]:
    opened = open_audit_store(audit_url)
    yield opened
    await opened.close()


async def test_au2_an_empty_trail_starts_at_the_genesis_hash(store: AuditStore) -> None:
    assert await store.head() == EMPTY == ChainHead(0, GENESIS)
    assert await store.read() == [] and await store.last_checkpoint() is None


async def test_au2_appends_are_chained_with_gap_free_sequence_numbers(store: AuditStore) -> None:
    maker = maker_at()
    first = await store.append(made_events(maker, 3))
    second = await store.append(made_events(maker, 2))
    stored = await store.read()
    assert [s.seq for s in stored] == [1, 2, 3, 4, 5]
    assert (first.seq, second) == (3, ChainHead(5, stored[-1].hash))
    previous = GENESIS
    for event in stored:
        assert event.prev_hash == previous and event.hash == link(previous, event.body) and event.intact()
        previous = event.hash
    assert [e.event().fields["n"] for e in stored] == [0, 1, 2, 0, 1]


async def test_au2_an_empty_batch_changes_nothing(store: AuditStore) -> None:
    await store.append(made_events(maker_at(), 1))
    head = await store.head()
    assert await store.append([]) == head
    assert len(await store.read()) == 1


async def test_au2_reading_pages_and_filters(store: AuditStore) -> None:
    clock = FrozenClock(START)
    maker, events = EventMaker(clock), []
    for event_type, outcome, fields in (
        ("sign_in", "granted", {"sub": "alice"}),
        ("token_issued", "granted", {"client_id": "bot", "sub": "bob"}),
        ("call_pending", "held", {"tool": "weather__get", "client_id": "bot"}),
        ("access_denied", "denied", {"client_id": "bot", "by": "carol"}),
    ):
        events.append(maker.new_event(event_type, outcome, fields, via="agent", actor=None))
        clock.advance(1)
    await store.append(events)
    assert [e.seq for e in await store.read(after=1, limit=2)] == [2, 3]

    async def seqs(**criteria: object) -> list[int]:
        return [e.seq for e in await store.read(filters=AuditFilter(**criteria))]  # type: ignore[arg-type]

    assert await seqs(types=("sign_in", "access_denied")) == [1, 4]
    assert await seqs(client_id="bot") == [2, 3, 4]
    assert await seqs(subject="carol") == [4], "the person deciding is the actor"
    assert await seqs(outcome="granted") == [1, 2]
    assert await seqs(tool="weather__get") == [3]
    assert await seqs(since=events[1].at, until=events[3].at) == [2, 3]


async def test_au2_checkpoints_are_numbered_and_move_forward_only(store: AuditStore) -> None:
    await store.append(made_events(maker_at(), 4))
    head = await store.head()
    first = await store.add_checkpoint(2, "h2", 10.0, lambda number: f"jws-{number}")
    assert first is not None and (first.number, first.seq, first.jws) == (1, 2, "jws-1")
    assert await store.add_checkpoint(2, "h2", 11.0, lambda number: "again") is None
    second = await store.add_checkpoint(head.seq, head.hash, 12.0, lambda number: f"jws-{number}")
    assert second is not None and second.number == 2
    assert await store.last_checkpoint() == second
    assert await store.checkpoints() == [first, second]
    assert await store.checkpoints(after=1) == [second]


async def test_au2_a_failed_signature_leaves_no_checkpoint(store: AuditStore) -> None:
    await store.append(made_events(maker_at(), 1))

    def refuse(number: int) -> str:
        raise RuntimeError("no key")

    with pytest.raises(RuntimeError):
        await store.add_checkpoint(1, "h", 1.0, refuse)
    assert await store.last_checkpoint() is None
    await store.append(made_events(maker_at(), 1))  # the store still takes appends


@pytest.mark.parametrize("kind", SHARED)
async def test_au2_two_writers_on_one_trail_form_one_chain(kind: str, tmp_path: Path) -> None:
    """Two store objects (two connections, as two processes have) append from two threads at once."""
    url = trail_url(kind, tmp_path)
    stores = [open_audit_store(url), open_audit_store(url)]

    def hammer(store: AuditStore, tag: str) -> None:
        async def appends() -> None:
            maker = maker_at()
            for _ in range(40):
                await store.append(made_events(maker, 3, writer=tag))

        anyio.run(appends)

    threads = [threading.Thread(target=hammer, args=(s, tag)) for s, tag in zip(stores, "ab", strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    stored = await stores[0].read(limit=10_000)
    assert [s.seq for s in stored] == list(range(1, 241))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(stored))
    assert sorted(s.event().fields["writer"] for s in stored) == ["a"] * 120 + ["b"] * 120
    for store in stores:
        await store.close()


async def test_au2_a_trail_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-directory.sqlite3").mkdir()
    with pytest.raises(AuditUnavailable):
        open_audit_store(f"sqlite:///{tmp_path / 'a-directory.sqlite3'}")


def test_au2_the_trail_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "trail.audit.sqlite3"
    open_audit_store(f"sqlite:///{path}")
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700


def test_au2_the_trail_lives_beside_a_sqlite_store_in_a_file_of_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert (
        audit_store_url("", "sqlite:///var/mcp-gateway.sqlite3") == "sqlite:///var/mcp-gateway.audit.sqlite3"
    )
    assert audit_store_url("", "sqlite:////srv/gw/state.db") == "sqlite:////srv/gw/state.audit.sqlite3"
    assert audit_store_url("sqlite:////audit/trail.db", "sqlite:///x.sqlite3") == "sqlite:////audit/trail.db"
    assert audit_store_url("", "memory://") == "memory://" and caplog.text == ""
    assert audit_store_url("", "redis://127.0.0.1:6379/0") == "memory://"
    assert "set audit_store" in caplog.text, "a Redis gateway says its trail is in memory"
    with pytest.raises(ValueError, match="audit_store: scheme redis:// is not supported"):
        open_audit_store("redis://127.0.0.1:6379/0")
