"""The store contract, proved against every backend, and the properties particular to each.

The same tests run on memory, SQLite, Redis (standalone, Cluster, Sentinel) and PostgreSQL: whatever the
deployment, a ``jti`` is accepted once, an authorization code is redeemed once, and a store that
cannot answer raises :class:`StoreUnavailable` so callers fail closed. No test asserts a time.
Expiry is tested by letting time pass (:func:`elapse`): memory and SQLite measure TTLs on a
:class:`FrozenClock` that the test advances; Redis and PostgreSQL measure them on the server's own
clock, so there the TTLs are sub-second and the test waits them out.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import pytest
from redis.crc import key_slot

from gateway.clock import FrozenClock
from gateway.store import Store, StoreUnavailable
from gateway.store.factory import open_store
from gateway.store.postgres import PostgresStore
from gateway.store.redis import RedisStore
from gateway.store.sqlite import _PURGE_EVERY, SQLiteStore
from tests.support import redis_servers
from tests.support.ports import free_port
from tests.support.store_probes import eventually_works, every_call_fails_closed, works

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis-cluster", marks=pytest.mark.redis),
    pytest.param("redis-sentinel", marks=pytest.mark.redis),
    pytest.param("postgresql", marks=pytest.mark.postgres),
]
REDIS_FIXTURES = {
    "redis": "redis_server",
    "redis-cluster": "redis_cluster",
    "redis-sentinel": "redis_sentinel",
}


def _prefix() -> str:
    """A fresh key prefix keeps tests apart on the session-wide Redis servers."""
    return f"test-{uuid.uuid4().hex[:12]}:"


Elapse = Callable[[float], Awaitable[None]]


CONTRACT_DEADLINE = 3.0


@pytest.fixture
def clock() -> FrozenClock:
    """The clock of the memory and SQLite stores: their TTLs pass only when a test advances it."""
    return FrozenClock(1_700_000_000.0)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Store]:
    backend = request.param
    opened: Store
    # The contract is about what each operation guarantees, not about how fast: on Redis and
    # PostgreSQL it gets a deadline that a burst of 200 commands meets on a loaded test machine. The
    # fail-fast deadline has its own tests below and in test_postgres_store.py (a stopped or frozen
    # server).
    if backend == "memory":
        opened = open_store("memory://", clock)
    elif backend == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path / 'store.db'}", clock)
    elif backend == "postgresql":  # a database of the test's own
        opened = PostgresStore(request.getfixturevalue("postgres_url"), deadline=CONTRACT_DEADLINE)
    else:
        url = f"{request.getfixturevalue(REDIS_FIXTURES[backend]).url}?key_prefix={_prefix()}"
        opened = RedisStore(url, deadline=CONTRACT_DEADLINE)
    # As the gateway does at startup. For Cluster this also loads the topology, which redis-py
    # 8.1 races against a cold burst of concurrent commands (see gateway/store/redis.py).
    await opened.ping()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def elapse(store: Store, clock: FrozenClock) -> Elapse:
    """Let ``seconds`` pass for the store's TTLs: the frozen clock of memory and SQLite moves at once;
    Redis and PostgreSQL expire keys on the server's clock, so there the test has to wait."""

    async def elapse(seconds: float) -> None:
        if isinstance(store, RedisStore | PostgresStore):
            await anyio.sleep(seconds)
        else:
            clock.advance(seconds)

    return elapse


# -- the contract --------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_records_round_trip_list_by_collection_and_delete(store: Store) -> None:
    assert await store.get_record("clients", "a") is None
    assert await store.list_records("clients") == {}
    await store.put_record("clients", "a", '{"name": "Ålice ✓"}')
    await store.put_record("clients", "b", "{}")
    await store.put_record("signing_keys", "a", "another collection")

    assert await store.get_record("clients", "a") == '{"name": "Ålice ✓"}'
    assert await store.list_records("clients") == {"a": '{"name": "Ålice ✓"}', "b": "{}"}
    assert await store.delete_record("clients", "a") is True
    assert await store.delete_record("clients", "a") is False
    assert await store.list_records("clients") == {"b": "{}"}
    assert await store.get_record("signing_keys", "a") == "another collection"


@pytest.mark.anyio
async def test_putting_a_record_again_replaces_it(store: Store) -> None:
    await store.put_record("clients", "a", "v1")
    await store.put_record("clients", "a", "v2")
    assert await store.get_record("clients", "a") == "v2"
    assert await store.list_records("clients") == {"a": "v2"}


@pytest.mark.anyio
async def test_add_sets_a_key_only_when_it_is_absent(store: Store) -> None:
    assert await store.add("jti:1", "first", ttl=60) is True
    assert await store.add("jti:1", "second", ttl=60) is False
    assert await store.get("jti:1") == "first"
    assert await store.get("jti:2") is None


@pytest.mark.anyio
async def test_an_expired_key_is_gone_and_can_be_added_again(store: Store, elapse: Elapse) -> None:
    assert await store.add("code", "v1", ttl=0.2) is True
    await store.put("other", "x", ttl=0.2)
    await elapse(0.4)
    assert await store.get("code") is None
    assert await store.get("other") is None
    assert await store.take("other") is None
    assert await store.add("code", "v2", ttl=60) is True
    assert await store.get("code") == "v2"


@pytest.mark.anyio
async def test_put_replaces_a_key_and_its_ttl(store: Store, elapse: Elapse) -> None:
    await store.put("k", "short-lived", ttl=0.2)
    await store.put("k", "long-lived", ttl=60)
    await elapse(0.4)
    assert await store.get("k") == "long-lived"


@pytest.mark.anyio
async def test_take_returns_a_value_only_once(store: Store) -> None:
    await store.put("code", "grant", ttl=60)
    assert await store.take("code") == "grant"
    assert await store.take("code") is None
    assert await store.get("code") is None
    assert await store.take("never-set") is None


@pytest.mark.anyio
async def test_delete_removes_a_key(store: Store) -> None:
    await store.put("k", "v", ttl=60)
    await store.delete("k")
    await store.delete("k")  # deleting what is already gone is not an error
    assert await store.get("k") is None
    assert await store.add("k", "again", ttl=60) is True


@pytest.mark.anyio
async def test_swap_replaces_a_key_only_while_it_holds_the_expected_value(
    store: Store, elapse: Elapse
) -> None:
    await store.put("family", "generation-1", ttl=0.2)
    assert await store.swap("family", "generation-0", "generation-2", ttl=60) is False
    assert await store.get("family") == "generation-1"
    assert await store.swap("family", "generation-1", "generation-2", ttl=60) is True
    assert await store.get("family") == "generation-2"
    await elapse(0.4)  # the swap set a new TTL
    assert await store.get("family") == "generation-2"
    assert await store.swap("absent", "anything", "v", ttl=60) is False
    assert await store.get("absent") is None


@pytest.mark.anyio
async def test_an_expired_key_cannot_be_swapped(store: Store, elapse: Elapse) -> None:
    await store.put("family", "generation-1", ttl=0.2)
    await elapse(0.4)
    assert await store.swap("family", "generation-1", "generation-2", ttl=60) is False
    assert await store.get("family") is None


@pytest.mark.anyio
async def test_of_200_concurrent_swaps_from_one_value_exactly_one_wins(store: Store) -> None:
    await store.put("family", "generation-1", ttl=60)
    results = await asyncio.gather(
        *(store.swap("family", "generation-1", f"caller-{i}", ttl=60) for i in range(200))
    )
    assert results.count(True) == 1
    assert await store.get("family") == f"caller-{results.index(True)}"


@pytest.mark.anyio
async def test_appended_items_come_back_in_order_and_expire(store: Store, elapse: Elapse) -> None:
    for item in ("a", "b", "c"):
        await store.append("list:order", item, ttl=60)
    assert await store.items("list:order") == ["a", "b", "c"]
    assert await store.items("list:none") == []
    await store.append("list:short", "x", ttl=0.2)
    await elapse(0.3)
    assert await store.items("list:short") == []


@pytest.mark.anyio
async def test_of_200_concurrent_appends_to_one_list_every_one_lands(store: Store) -> None:
    await asyncio.gather(*(store.append("list:race", f"item-{i}", ttl=60) for i in range(200)))
    assert sorted(await store.items("list:race")) == sorted(f"item-{i}" for i in range(200))


@pytest.mark.anyio
async def test_of_200_concurrent_adds_exactly_one_wins(store: Store) -> None:
    results = await asyncio.gather(*(store.add("jti:race", f"caller-{i}", ttl=60) for i in range(200)))
    assert results.count(True) == 1
    assert await store.get("jti:race") == f"caller-{results.index(True)}"


@pytest.mark.anyio
async def test_of_200_concurrent_takes_exactly_one_gets_the_value(store: Store) -> None:
    await store.put("code", "grant", ttl=60)
    results = await asyncio.gather(*(store.take("code") for _ in range(200)))
    assert [r for r in results if r is not None] == ["grant"]


@pytest.mark.anyio
async def test_ping_answers_when_the_backend_is_up(store: Store) -> None:
    await store.ping()


# -- SQLite: durable, shared between processes, owner-only ----------------------------------------
@pytest.mark.anyio
async def test_two_sqlite_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    server, cli = SQLiteStore(path), SQLiteStore(path)
    try:
        await cli.put_record("clients", "agent", "{}")
        assert await server.get_record("clients", "agent") == "{}"
        assert await server.add("jti", "server", ttl=60) is True
        assert await cli.add("jti", "cli", ttl=60) is False
        assert await cli.take("jti") == "server"
        assert await server.get("jti") is None
        assert await server.delete_record("clients", "agent") is True
        assert await cli.list_records("clients") == {}
    finally:
        await server.close()
        await cli.close()


_RACING_PROCESS = """
import asyncio, pathlib, sys, time
from gateway.store.sqlite import SQLiteStore

async def main() -> None:
    store = SQLiteStore(sys.argv[1])
    print("ready", flush=True)
    while not pathlib.Path(sys.argv[2]).exists():
        time.sleep(0.001)
    won = [key for key in (f"jti:{i}" for i in range(300)) if await store.add(key, "x", ttl=60)]
    await store.close()
    print("\\n".join(won))

asyncio.run(main())
"""


def test_of_concurrent_adds_from_several_processes_exactly_one_wins_each_key(tmp_path: Path) -> None:
    database, go = tmp_path / "shared.db", tmp_path / "go"
    command = [sys.executable, "-c", _RACING_PROCESS, str(database), str(go)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        for process in processes:  # all have opened the (fresh) file before anyone writes
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        go.touch()
        outputs = [process.communicate(timeout=60)[0] for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()
    assert all(process.returncode == 0 for process in processes)
    wins = [key for output in outputs for key in output.split()]
    assert sorted(wins) == sorted(f"jti:{i}" for i in range(300))


@pytest.mark.anyio
async def test_the_sqlite_file_and_the_directories_it_creates_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "gateway.db"
    old_umask = os.umask(0)  # even a permissive umask must not widen the modes
    try:
        store = SQLiteStore(str(path))
    finally:
        os.umask(old_umask)
    try:
        await store.put("k", "v", ttl=60)  # the -wal and -shm files exist while a connection is open
        for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        for directory in (path.parent, path.parent.parent):
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    finally:
        await store.close()


@pytest.mark.anyio
async def test_sqlite_state_survives_reopening_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "gateway.db")
    first = SQLiteStore(path)
    await first.put_record("clients", "agent", "{}")
    await first.add("jti", "v", ttl=60)
    await first.close()
    second = SQLiteStore(path)
    try:
        assert await second.get_record("clients", "agent") == "{}"
        assert await second.add("jti", "v", ttl=60) is False
    finally:
        await second.close()


@pytest.mark.anyio
async def test_a_locked_sqlite_database_raises_store_unavailable(tmp_path: Path) -> None:
    path = str(tmp_path / "gateway.db")
    store = SQLiteStore(path)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock too long
        with pytest.raises(StoreUnavailable):
            await store.add("jti", "v", ttl=60)
        blocker.execute("ROLLBACK")
        assert await store.add("jti", "v", ttl=60) is True
    finally:
        blocker.close()
        await store.close()


@pytest.mark.anyio
async def test_a_closed_or_unopenable_sqlite_store_raises_store_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "gateway.db"))
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.get("k")
    with pytest.raises(StoreUnavailable):
        SQLiteStore(str(tmp_path))  # a directory, not a database file


@pytest.mark.anyio
async def test_expired_sqlite_keys_are_purged_lazily(tmp_path: Path, clock: FrozenClock) -> None:
    path = str(tmp_path / "gateway.db")
    store = SQLiteStore(path, clock)
    try:
        for i in range(10):
            await store.put(f"old:{i}", "v", ttl=0.05)
        clock.advance(0.2)
        for i in range(_PURGE_EVERY):
            await store.add(f"new:{i}", "v", ttl=60)
        with contextlib.closing(sqlite3.connect(path)) as db:
            (left,) = db.execute("SELECT count(*) FROM ephemeral WHERE key LIKE 'old:%'").fetchone()
        assert left == 0
    finally:
        await store.close()


# -- Redis: fail closed, fast, and recover without a restart --------------------------------------
@pytest.fixture
def private_redis() -> Iterator[redis_servers.RedisServer]:
    """A server of the test's own, since the test stops it."""
    with redis_servers.redis_server() as server:
        yield server


@pytest.fixture
def private_sentinel() -> Iterator[redis_servers.RedisSentinelServers]:
    with redis_servers.redis_sentinel() as servers:
        yield servers


@pytest.fixture
def private_cluster() -> Iterator[redis_servers.RedisClusterServers]:
    with redis_servers.redis_cluster() as cluster:
        yield cluster


@pytest.mark.anyio
@pytest.mark.redis
async def test_a_stopped_redis_fails_closed_and_the_same_store_works_when_it_is_back(
    private_redis: redis_servers.RedisServer,
) -> None:
    store = RedisStore(private_redis.url)
    try:
        await asyncio.gather(*(works(store) for _ in range(20)))  # pooled connections to go stale
        private_redis.stop()
        await every_call_fails_closed(store)
        with pytest.raises(StoreUnavailable):
            await store.ping()
        private_redis.start()
        await asyncio.gather(*(works(store) for _ in range(20)))  # at once: stale ones are replaced
    finally:
        await store.close()


@pytest.mark.anyio
@pytest.mark.redis
async def test_a_frozen_redis_fails_closed_and_the_same_store_works_when_it_thaws(
    private_redis: redis_servers.RedisServer,
) -> None:
    store = RedisStore(private_redis.url)
    try:
        await works(store)
        private_redis.pause()  # accepts connections, answers nothing: only timeouts can tell
        try:
            await every_call_fails_closed(store)
        finally:
            private_redis.resume()
        await works(store)
    finally:
        await store.close()


@pytest.mark.anyio
@pytest.mark.redis
async def test_a_stopped_sentinel_master_fails_closed_and_the_same_store_recovers(
    private_sentinel: redis_servers.RedisSentinelServers,
) -> None:
    store = RedisStore(private_sentinel.url)
    try:
        await works(store)
        private_sentinel.master.stop()
        await every_call_fails_closed(store)
        private_sentinel.master.start()
        await eventually_works(store)
    finally:
        await store.close()


def _tag_on_node(cluster: redis_servers.RedisClusterServers, node: int) -> str:
    """A hash tag whose slot the ``node``-th master serves."""
    slots = cluster.slots_of(node)
    return next(tag for tag in (f"t{i}" for i in range(10_000)) if key_slot(tag.encode()) in slots)


@pytest.mark.anyio
@pytest.mark.redis
async def test_a_cluster_fails_closed_for_a_stopped_master_and_the_same_store_recovers(
    private_cluster: redis_servers.RedisClusterServers,
) -> None:
    store = RedisStore(private_cluster.url)
    tag = _tag_on_node(private_cluster, 1)
    try:
        await works(store)
        private_cluster.nodes[1].stop()
        await every_call_fails_closed(store, key=f"{{{tag}}}k", collection=f"{{{tag}}}c")
        private_cluster.nodes[1].start()
        await eventually_works(store, key_prefix=f"{{{tag}}}")
        await store.put_record(f"{{{tag}}}c", "r", "v")
        assert await store.get_record(f"{{{tag}}}c", "r") == "v"
    finally:
        await store.close()


@pytest.mark.anyio
@pytest.mark.redis
async def test_cluster_keys_spread_across_all_masters_all_work(
    redis_cluster: redis_servers.RedisClusterServers,
) -> None:
    prefix = _prefix()
    store = RedisStore(f"{redis_cluster.url}?key_prefix={prefix}")
    try:
        for i in range(60):
            assert await store.add(f"jti:{i}", str(i), ttl=60) is True
        for i in range(30):
            await store.put_record(f"collection-{i}", "id", str(i))
        assert [await store.get(f"jti:{i}") for i in range(60)] == [str(i) for i in range(60)]
        assert [await store.get_record(f"collection-{i}", "id") for i in range(30)] == [
            str(i) for i in range(30)
        ]
        per_master = []
        for node in redis_cluster.nodes:
            with node.client() as client:
                per_master.append(len(list(client.scan_iter(match=f"{prefix}*"))))
        assert all(count > 0 for count in per_master), per_master
        assert sum(per_master) == 90
    finally:
        await store.close()


@pytest.mark.anyio
@pytest.mark.redis
async def test_an_unreachable_sentinel_or_startup_node_is_skipped(
    redis_sentinel: redis_servers.RedisSentinelServers, redis_cluster: redis_servers.RedisClusterServers
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    sentinel_url = redis_sentinel.url.replace("sentinel://", f"sentinel://{dead},")
    cluster_url = redis_cluster.url.replace("cluster://", f"cluster://{dead},")
    for url in (sentinel_url, cluster_url):
        store = open_store(f"{url}?key_prefix={_prefix()}")
        try:
            await works(store)
        finally:
            await store.close()


# -- opening a store by URL -----------------------------------------------------------------------
@pytest.mark.anyio
async def test_sqlite_urls_take_relative_and_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for url, created in (
        ("sqlite:///state/relative.db", tmp_path / "state" / "relative.db"),
        (f"sqlite:///{tmp_path}/absolute.db", tmp_path / "absolute.db"),
    ):
        store = open_store(url)
        await store.close()
        assert created.is_file(), url


@pytest.mark.parametrize(
    "url",
    [
        "postgres://admin:s3cret@db.example:not-a-port/gateway",
        "postgresql://admin:s3cret@/gateway",
        "/var/lib/gateway.db",
        "sqlite:///",
        "redis+sentinel://:s3cret@127.0.0.1:26379",
        "redis+sentinel://:s3cret@127.0.0.1:26379/mymaster/not-a-db",
        "redis+cluster://:s3cret@127.0.0.1:not-a-port",
        "redis+cluster://:s3cret@127.0.0.1:7000?unknown=1",
    ],
)
def test_a_bad_store_url_is_a_one_line_value_error_without_its_password(url: str) -> None:
    with pytest.raises(ValueError) as raised:
        open_store(url)
    message = str(raised.value)
    assert message
    assert "\n" not in message
    assert "s3cret" not in message
