"""Shared fixtures. Tests start what they need themselves; nothing here needs a running service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import redis_servers


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """The gateway runs on asyncio (uvicorn, redis.asyncio), so async tests do too."""
    return "asyncio"


# -- private Redis deployments, started once per session on free ports ---------------------------
@pytest.fixture(scope="session")
def redis_server() -> Iterator[redis_servers.RedisServer]:
    redis_servers.require_redis_server()
    with redis_servers.redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[redis_servers.RedisClusterServers]:
    redis_servers.require_redis_server()
    with redis_servers.redis_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[redis_servers.RedisSentinelServers]:
    redis_servers.require_redis_server()
    with redis_servers.redis_sentinel() as sentinel:
        yield sentinel
