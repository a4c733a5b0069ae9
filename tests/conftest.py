"""Fixtures most test modules use. Tests start what they need themselves; nothing here needs a
service running before the suite starts (the Redis servers are started here, on free ports)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest

# Before any helper is imported: a failed assert inside a helper then shows its values, as in a test
# (and a helper module named in a test module's pytest_plugins can be imported by that module too).
pytest.register_assert_rewrite("tests.support")

from gateway.key_encryption import new_kek_text  # noqa: E402
from tests.support import kek, postgres_servers, redis_servers  # noqa: E402
from tests.support.http_clients import http_client  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault(kek.ENVIRONMENT_VARIABLE, new_kek_text())


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """The gateway runs on asyncio (uvicorn, redis.asyncio), so async tests do too."""
    return "asyncio"


@pytest.fixture
def base_url() -> str:
    """Where ``http`` sends relative URLs; a module whose tests speak to one gateway overrides it."""
    return ""


@pytest.fixture
def http_transport() -> httpx2.AsyncBaseTransport | None:
    """Where ``http`` sends requests: the network, unless a module whose gateway runs in the
    test's process overrides this with the transport that reaches it."""
    return None


@pytest.fixture
async def http(
    base_url: str, http_transport: httpx2.AsyncBaseTransport | None
) -> AsyncIterator[httpx2.AsyncClient]:
    """The test's HTTP client, closed after it, so no test leaks connections into the next."""
    async with http_client(base_url, transport=http_transport) as client:
        yield client


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test on each backend users deploy: a SQLite file of its own, the session's Redis, a
    migrated database of its own on the session's PostgreSQL (about 25 s more for the suite)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gw.sqlite3'}"
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    server: redis_servers.RedisServer = request.getfixturevalue("redis_server")
    return server.url


# -- private Redis deployments, started once per session on free ports ---------------------------
@pytest.fixture(scope="session")
def redis_server() -> Iterator[redis_servers.RedisServer]:
    """One standalone Redis for the session; tests isolate themselves by key prefix or fresh ids."""
    with redis_servers.redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[redis_servers.RedisClusterServers]:
    """A three-master Redis Cluster for the session (the store's cluster mode)."""
    with redis_servers.redis_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[redis_servers.RedisSentinelServers]:
    """A Redis master watched by one Sentinel, for the session (the store's Sentinel mode)."""
    with redis_servers.redis_sentinel() as sentinel:
        yield sentinel


# -- a private PostgreSQL, started once per session on a free port ------------------------------
MIGRATED_TEMPLATE = "gateway_migrated"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres_servers.PostgresServer]:
    """One PostgreSQL for the session, holding a template database with the store's schema migrated
    (skips the test when PostgreSQL is not installed)."""
    with postgres_servers.postgres_server() as server:
        server.sql(f"CREATE DATABASE {MIGRATED_TEMPLATE}")
        postgres_servers.migrate(server.url(MIGRATED_TEMPLATE))
        yield server


@pytest.fixture
def postgres_url(postgres_server: postgres_servers.PostgresServer) -> Iterator[str]:
    """A database of the test's own, with the store's schema (a copy of the migrated template)."""
    database = postgres_server.new_database(template=MIGRATED_TEMPLATE)
    yield postgres_server.url(database)
    postgres_server.drop_database(database)


@pytest.fixture
def unmigrated_postgres_url(postgres_server: postgres_servers.PostgresServer) -> Iterator[str]:
    """A database of the test's own on the session's server, still without the store's schema."""
    database = postgres_server.new_database()
    yield postgres_server.url(database)
    postgres_server.drop_database(database)
