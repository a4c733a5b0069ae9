"""The PostgreSQL store beyond the contract: it fails closed when the server is stopped or frozen
and works again by itself, it refuses a schema that is not current until someone migrates, and
migrations apply once however many run at once.

The contract itself (every operation, the races of 200 callers) is in test_store_contract.py. No test
asserts a time: a store that hung instead of failing would hit the test's own timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from gateway.store import SchemaNotCurrent, StoreUnavailable
from gateway.store.factory import check_schema, migrate_schema, open_store
from gateway.store.postgres import PostgresStore
from gateway.store.postgres_schema import CURRENT_VERSION, MIGRATIONS
from tests.support import postgres_servers
from tests.support.ports import free_port
from tests.support.store_probes import every_call_fails_closed, works

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]

TEST_TIMEOUT = 30


@pytest.fixture
def private_postgres() -> Iterator[tuple[postgres_servers.PostgresServer, str]]:
    """A server of the test's own, since the test stops or freezes it, and its migrated database."""
    with postgres_servers.postgres_database() as server_and_url:
        yield server_and_url


@pytest.fixture
async def fresh_store(unmigrated_postgres_url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(unmigrated_postgres_url)
    try:
        yield store
    finally:
        await store.close()


async def test_a_stopped_postgres_fails_closed_and_the_same_store_works_when_it_is_back(
    private_postgres: tuple[postgres_servers.PostgresServer, str],
) -> None:
    server, url = private_postgres
    store = PostgresStore(url)
    try:
        with anyio.fail_after(TEST_TIMEOUT):
            await asyncio.gather(*(works(store) for _ in range(16)))  # pooled connections to go stale
            server.stop()
            await every_call_fails_closed(store)
            with pytest.raises(StoreUnavailable):
                await store.ping()
            server.start()
            await asyncio.gather(*(works(store) for _ in range(16)))  # at once: dropped ones are replaced
    finally:
        await store.close()


async def test_a_frozen_postgres_fails_closed_and_the_same_store_works_when_it_thaws(
    private_postgres: tuple[postgres_servers.PostgresServer, str],
) -> None:
    server, url = private_postgres
    store = PostgresStore(url)
    try:
        with anyio.fail_after(TEST_TIMEOUT):
            await works(store)
            server.pause()  # accepts connections, answers nothing: only timeouts can tell
            try:
                await every_call_fails_closed(store)
                await every_call_fails_closed(store)  # and again, while the first calls are abandoned
                # More callers than connections: the queued ones fail closed too.
                burst = await asyncio.gather(*(store.get(f"k{i}") for i in range(64)), return_exceptions=True)
                assert all(isinstance(result, StoreUnavailable) for result in burst), burst
            finally:
                server.resume()
            while True:  # the abandoned calls give their connections back within a deadline or two
                try:
                    return await works(store)
                except StoreUnavailable:
                    await anyio.sleep(0.1)
    finally:
        await store.close()


async def test_a_store_on_an_unreachable_server_fails_closed_without_echoing_the_password() -> None:
    closed_port = free_port()
    store = open_store(f"postgresql://gateway:s3cret@127.0.0.1:{closed_port}/gateway")
    try:
        with anyio.fail_after(TEST_TIMEOUT), pytest.raises(StoreUnavailable) as raised:
            await store.ping()
        assert "s3cret" not in str(raised.value)
    finally:
        await store.close()


async def test_a_store_without_its_schema_refuses_every_call_until_it_is_migrated(
    unmigrated_postgres_url: str, fresh_store: PostgresStore
) -> None:
    with pytest.raises(StoreUnavailable, match="run 'mcp-gateway migrate'"):
        await fresh_store.put_record("clients", "a", "{}")
    with pytest.raises(SchemaNotCurrent, match="no schema yet"):
        await check_schema(unmigrated_postgres_url)
    await migrate_schema(unmigrated_postgres_url)
    await check_schema(unmigrated_postgres_url)
    await fresh_store.put_record("clients", "a", "{}")  # the same store, without a restart
    assert await fresh_store.get_record("clients", "a") == "{}"


async def test_a_schema_newer_than_the_gateway_is_refused_by_the_check_and_by_migrate(
    unmigrated_postgres_url: str, postgres_server: postgres_servers.PostgresServer
) -> None:
    await migrate_schema(unmigrated_postgres_url)
    database = unmigrated_postgres_url.rsplit("/", 1)[1]
    postgres_server.sql(
        f"INSERT INTO schema_migrations (version, description) VALUES ({CURRENT_VERSION + 1}, 'later')",
        database,
    )
    with pytest.raises(SchemaNotCurrent, match="newer than this gateway"):
        await check_schema(unmigrated_postgres_url)
    with pytest.raises(SchemaNotCurrent, match="newer than this gateway"):
        await migrate_schema(unmigrated_postgres_url)


async def test_migrations_run_at_once_apply_each_version_once(
    unmigrated_postgres_url: str, postgres_server: postgres_servers.PostgresServer
) -> None:
    results = await asyncio.gather(*(migrate_schema(unmigrated_postgres_url) for _ in range(4)))
    applied = [migration.version for result in results if result for migration in result[1]]
    assert sorted(applied) == [migration.version for migration in MIGRATIONS]
    database = unmigrated_postgres_url.rsplit("/", 1)[1]
    versions = postgres_server.sql("SELECT version FROM schema_migrations ORDER BY version", database)
    assert versions.split() == [str(migration.version) for migration in MIGRATIONS]
    assert await migrate_schema(unmigrated_postgres_url) == (CURRENT_VERSION, ())


async def test_expired_keys_are_purged_lazily(
    postgres_url: str, postgres_server: postgres_servers.PostgresServer
) -> None:
    store = PostgresStore(postgres_url)
    try:
        for i in range(10):
            await store.put(f"old:{i}", "v", ttl=0.05)
            await store.append(f"list:{i}", "v", ttl=0.05)
        await anyio.sleep(0.2)
        for i in range(256):
            await store.add(f"new:{i}", "v", ttl=60)
    finally:
        await store.close()
    database = postgres_url.rsplit("/", 1)[1]
    assert postgres_server.sql("SELECT count(*) FROM ephemeral WHERE key LIKE 'old:%'", database) == "0"
    assert postgres_server.sql("SELECT count(*) FROM list_items", database) == "0"
