"""Open the configured store from one URL, so the server and the CLI agree on where state lives.

* ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` - the embedded default;
* ``redis://``, ``rediss://``, ``redis+sentinel://``, ``redis+cluster://`` - shared state for
  several replicas (see :mod:`gateway.store.redis`);
* ``postgresql://`` or ``postgres://`` - a real database, shared by several replicas, its schema
  made by ``mcp-gateway migrate`` (see :mod:`gateway.store.postgres`);
* ``memory://`` - tests only: nothing survives the process.

A second URL, ``hot_store``, may take the single-use and expiring keys away from the store, which
keeps the durable records (:func:`open_state`, :mod:`gateway.store.split`): PostgreSQL for records
beside Redis for the hot state.

Backends are imported on demand so a SQLite deployment never imports redis or asyncpg.

``deadline`` bounds the wait for each answer from Redis or PostgreSQL (:mod:`gateway.store.call_gate`).

``clock`` measures the TTLs of the SQLite and memory stores (the system clock by default). Redis and
PostgreSQL stores ignore it: there the TTLs are the server's own clock, which replicas share.

Only PostgreSQL has a versioned schema: :func:`migrate_schema` and :func:`check_schema` do nothing
for the other backends (SQLite creates its tables itself; Redis and memory have none).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from gateway.clock import Clock
from gateway.store import Store
from gateway.store.postgres_schema import CURRENT_VERSION, Migration

_REDIS_SCHEMES = ("redis", "rediss", "redis+sentinel", "redis+cluster")
_POSTGRES_SCHEMES = ("postgresql", "postgres")


DEFAULT_DEADLINE = 0.4
"""Seconds to wait for one answer from Redis or PostgreSQL (setting ``store_deadline_ms``)."""


def open_store(url: str, clock: Clock | None = None, *, deadline: float = DEFAULT_DEADLINE) -> Store:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from gateway.store.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url), clock)
    if scheme in _REDIS_SCHEMES:
        from gateway.store.redis import RedisStore

        return RedisStore(url, deadline=deadline)
    if scheme in _POSTGRES_SCHEMES:
        from gateway.store.postgres import PostgresStore

        return PostgresStore(url, deadline=deadline)
    if scheme == "memory":
        from gateway.store.memory import MemoryStore

        return MemoryStore(clock)
    # The URL itself is not echoed: it may hold a password.
    what = f"scheme {scheme}://" if scheme else "a URL without a scheme"
    raise ValueError(
        f"store URL: {what} is not supported; use sqlite:///path, redis://, rediss://, "
        "redis+sentinel://, redis+cluster://, postgresql:// or memory://"
    )


def open_state(
    store_url: str, hot_store_url: str = "", clock: Clock | None = None, *, deadline: float = DEFAULT_DEADLINE
) -> Store:
    """The gateway's state: the store alone, or the store's records beside a hot store's keys."""
    if not hot_store_url:
        return open_store(store_url, clock, deadline=deadline)
    from gateway.store.split import SplitStore

    records, keys = (open_store(url, clock, deadline=deadline) for url in (store_url, hot_store_url))
    return SplitStore(records, keys)


def sqlite_path(url: str) -> str:
    """The file a ``sqlite:`` store URL names: ``sqlite:///x.db`` is ``x.db`` (relative),
    ``sqlite:////abs/x.db`` is ``/abs/x.db``."""
    path = unquote(url.removeprefix("sqlite:").removeprefix("//").removeprefix("/"))
    if not path:
        raise ValueError(f"store URL {url!r} has no file path; e.g. sqlite:///gateway.db")
    return path


def store_kind(url: str) -> str:
    """``sqlite``, ``redis`` (any of its deployments), ``postgresql`` or ``memory``: what a store URL
    names."""
    scheme = urlsplit(url).scheme
    if scheme in _REDIS_SCHEMES:
        return "redis"
    return "postgresql" if scheme in _POSTGRES_SCHEMES else scheme


def schema_urls(store_url: str, audit_store_url: str = "") -> tuple[str, ...]:
    """The databases whose schema this gateway needs current: the store's, and the audit trail's
    when ``audit_store`` names another (each once)."""
    return tuple(dict.fromkeys(url for url in (store_url, audit_store_url) if url))


async def migrate_schema(url: str) -> tuple[int, tuple[Migration, ...]] | None:
    """Bring the schema of the store at ``url`` up to date: its version now and the migrations
    applied to get there (none when it was current); None for a backend without a versioned schema."""
    if store_kind(url) != "postgresql":
        return None
    from gateway.store.postgres_migrations import migrate_database

    return CURRENT_VERSION, await migrate_database(url)


async def check_schema(url: str) -> None:
    """Raise :class:`~gateway.store.SchemaNotCurrent` when the store at ``url`` needs
    ``mcp-gateway migrate`` first; :class:`~gateway.store.StoreUnavailable` when it cannot tell."""
    if store_kind(url) == "postgresql":
        from gateway.store.postgres_migrations import check_database

        await check_database(url)
