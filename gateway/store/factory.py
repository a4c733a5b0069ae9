"""Open the configured store from one URL, so the server and the CLI agree on where state lives.

* ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` - the embedded default;
* ``redis://``, ``rediss://``, ``redis+sentinel://``, ``redis+cluster://`` - shared state for
  several replicas (see :mod:`gateway.store.redis`);
* ``memory://`` - tests only: nothing survives the process.

Backends are imported on demand so a SQLite deployment never imports redis.

``clock`` measures the TTLs of the SQLite and memory stores (the system clock by default). A Redis
store ignores it: there the TTLs are the Redis server's own clock.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from gateway.clock import Clock
from gateway.store import Store

_REDIS_SCHEMES = ("redis", "rediss", "redis+sentinel", "redis+cluster")


def open_store(url: str, clock: Clock | None = None) -> Store:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from gateway.store.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url), clock)
    if scheme in _REDIS_SCHEMES:
        from gateway.store.redis import RedisStore

        return RedisStore(url)
    if scheme == "memory":
        from gateway.store.memory import MemoryStore

        return MemoryStore(clock)
    # The URL itself is not echoed: it may hold a password.
    what = f"scheme {scheme}://" if scheme else "a URL without a scheme"
    raise ValueError(
        f"store URL: {what} is not supported; use sqlite:///path, redis://, rediss://, "
        "redis+sentinel://, redis+cluster:// or memory://"
    )


def sqlite_path(url: str) -> str:
    """The file a ``sqlite:`` store URL names: ``sqlite:///x.db`` is ``x.db`` (relative),
    ``sqlite:////abs/x.db`` is ``/abs/x.db``."""
    path = unquote(url.removeprefix("sqlite:").removeprefix("//").removeprefix("/"))
    if not path:
        raise ValueError(f"store URL {url!r} has no file path; e.g. sqlite:///gateway.db")
    return path


def store_kind(url: str) -> str:
    """``sqlite``, ``redis`` (any of its deployments) or ``memory``: what a store URL names."""
    scheme = urlsplit(url).scheme
    return "redis" if scheme in _REDIS_SCHEMES else scheme
