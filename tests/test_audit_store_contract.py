"""The audit store contract, proved against every implementation of :class:`AuditStore` (AU-2).

The tests take the store from the ``audit_url`` fixture: a SQLite file, an in-memory SQLite
database, and a migrated database of the test's own on the session's PostgreSQL (a copy of the
migrated template: cheap). Those that need two writers on one trail (``shared``) run where the trail
can be shared.
"""

from __future__ import annotations

import doctest
import itertools
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from gateway.audit import search_sql
from gateway.audit.chain import GENESIS, link
from gateway.audit.events import EventMaker
from gateway.audit.factory import audit_store_url, open_audit_store
from gateway.audit.store import EMPTY, AuditFilter, AuditStore, AuditUnavailable, ChainHead
from gateway.clock import FrozenClock
from tests.support.audit import START, made_events, maker_at

pytestmark = pytest.mark.anyio

IMPLEMENTATIONS = ["sqlite", "memory", pytest.param("postgres", marks=pytest.mark.postgres)]
SHARED = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""The implementations whose trail several processes share."""


def trail_url(kind: str, folder: Path, request: pytest.FixtureRequest) -> str:
    if kind == "postgres":
        url: str = request.getfixturevalue("postgres_url")  # conftest: a migrated database of its own
        return url
    return {"sqlite": f"sqlite:///{folder / 'trail.audit.sqlite3'}", "memory": "memory://"}[kind]


@pytest.fixture(params=IMPLEMENTATIONS)
def audit_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return trail_url(request.param, tmp_path, request)


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
async def test_au2_two_writers_on_one_trail_form_one_chain(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two store objects (two connections, as two processes have) append from two threads at once."""
    url = trail_url(kind, tmp_path, request)

    def hammer(tag: str) -> None:
        async def appends() -> None:
            store = open_audit_store(url)  # opened, used and closed in this thread's event loop
            maker = maker_at()
            for _ in range(40):
                await store.append(made_events(maker, 3, writer=tag))
            await store.close()

        anyio.run(appends)

    threads = [threading.Thread(target=hammer, args=(tag,)) for tag in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    reader = open_audit_store(url)
    stored = await reader.read(limit=10_000)
    await reader.close()
    assert [s.seq for s in stored] == list(range(1, 241))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(stored))
    assert sorted(s.event().fields["writer"] for s in stored) == ["a"] * 120 + ["b"] * 120


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
    assert "postgresql://" in caplog.text, "and names the trail replicas share"
    with pytest.raises(ValueError, match="audit_store: scheme redis:// is not supported"):
        open_audit_store("redis://127.0.0.1:6379/0")


def test_au8_the_trail_of_a_postgresql_store_is_in_the_same_database(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = "postgresql://gateway@db.internal:5432/gateway"
    assert audit_store_url("", store) == store and caplog.text == ""
    assert (
        audit_store_url("postgres://audit@trail.internal/audit", store)
        == "postgres://audit@trail.internal/audit"
    )
    assert audit_store_url("postgresql://db.internal/audit", "redis://127.0.0.1:6379/0").startswith(
        "postgresql:"
    )
    assert caplog.text == "", "a Redis gateway with a PostgreSQL trail is not warned"


# -- export positions and pruning (the store's "export and retention" methods) --------------------
async def test_au2_store_export_positions_start_at_zero_and_only_move_forward(store: AuditStore) -> None:
    assert await store.export_position("siem") == 0
    await store.set_export_position("siem", 5)
    await store.set_export_position("siem", 3)  # a late confirmation of less changes nothing
    await store.set_export_position("archive", 2)
    assert (await store.export_position("siem"), await store.export_position("archive")) == (5, 2)
    await store.set_export_position("siem", 7)
    assert await store.export_position("siem") == 7
    assert await store.export_position("nobody") == 0


async def test_au2_store_prune_deletes_through_an_event_and_remembers_it_as_the_anchor(
    store: AuditStore,
) -> None:
    await store.append(made_events(maker_at(), 10))
    before = await store.read()
    first = await store.add_checkpoint(3, before[2].hash, 1.0, lambda number: f"jws-{number}")
    assert await store.pruned() == EMPTY
    assert await store.prune(4) == 4
    kept = await store.read()
    assert [e.seq for e in kept] == [5, 6, 7, 8, 9, 10]
    assert await store.pruned() == ChainHead(4, before[3].hash) and kept[0].prev_hash == before[3].hash
    assert await store.checkpoints() == [first], "checkpoints stay"
    assert await store.head() == ChainHead(10, before[-1].hash)


async def test_au2_store_prune_of_an_event_not_in_the_trail_deletes_nothing(store: AuditStore) -> None:
    await store.append(made_events(maker_at(), 5))
    assert await store.prune(6) == 0, "not written yet"
    assert await store.prune(3) == 3
    assert await store.prune(3) == 0 and await store.prune(2) == 0, "pruned already"
    assert await store.pruned() == ChainHead(3, (await store.read())[0].prev_hash)
    assert [e.seq for e in await store.read()] == [4, 5]


async def test_au2_store_appends_after_pruning_everything_continue_the_chain(store: AuditStore) -> None:
    await store.append(made_events(maker_at(), 3))
    head = await store.head()
    assert await store.prune(3) == 3 and await store.read() == []
    assert await store.pruned() == head == await store.head()
    after = await store.append(made_events(maker_at(), 2))
    stored = await store.read()
    assert [e.seq for e in stored] == [4, 5] and stored[0].prev_hash == head.hash
    assert after == ChainHead(5, stored[-1].hash)


def test_au2_a_search_names_only_the_criteria_given_so_the_indexes_serve_it() -> None:
    assert doctest.testmod(search_sql, raise_on_error=True).attempted >= 1
