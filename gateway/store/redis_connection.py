"""Turning one store URL into a Redis client: one server, the master that Sentinels name, or a
Cluster (the URL forms are described in :mod:`gateway.store.redis`).

Every shape gets the same fail-fast options: short socket timeouts, redis-py's retries off (a
Cluster keeps two immediate ones), a bounded pool, and never the master's credentials sent to a
Sentinel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.maint_notifications import MaintNotificationsConfig


@dataclass(frozen=True)
class RedisConnection:
    client: Redis | RedisCluster
    sentinel: Sentinel | None
    """Kept to close its connections with the client's."""
    key_prefix: str


def connect(
    url: str, *, key_prefix: str, socket_timeout: float, deadline: float, max_connections: int
) -> RedisConnection:
    """The client for ``url`` (connecting is lazy); ``?key_prefix=`` in the URL wins."""
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "retry": _retry(0),
        "decode_responses": True,
        "client_name": "mcp-gateway",
        # redis-py 8 turns these on by default with RESP3, which also turns off the pool's
        # check for stale connections: the first calls after a Redis restart would fail.
        "maint_notifications_config": MaintNotificationsConfig(enabled=False),
    }
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    key_prefix = query.pop("key_prefix", [key_prefix])[-1]
    sentinel: Sentinel | None = None
    client: Redis | RedisCluster
    if parts.scheme in ("redis", "rediss"):
        plain_url = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        client = _standalone(plain_url, options, max_connections, deadline)
    elif parts.scheme == "redis+sentinel":
        client, sentinel = _sentinel(parts.netloc, parts.path, query, options, max_connections)
    elif parts.scheme == "redis+cluster":
        client = _cluster(parts.netloc, query, options, max_connections)
    else:
        raise ValueError(f"not a redis URL: {parts.scheme}://")
    return RedisConnection(client, sentinel, key_prefix)


def _retry(attempts: int) -> Retry:
    return Retry(NoBackoff(), attempts)


def _hosts(hostlist: str, default_port: int) -> list[tuple[str, int]]:
    """``host:port[,host:port...]``; IPv6 hosts in brackets."""
    hosts = []
    for item in hostlist.split(","):
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
        if not host:
            raise ValueError(f"redis URL: bad host {item!r}")
        try:
            hosts.append((host, int(port) if port else default_port))
        except ValueError:
            raise ValueError(f"redis URL: bad port in {item!r}") from None
    return hosts


def _credentials(userinfo: str) -> dict[str, Any]:
    if not userinfo:
        return {}
    user, has_password, password = userinfo.partition(":")
    creds: dict[str, Any] = {}
    if user:
        creds["username"] = unquote(user)
    if has_password:
        creds["password"] = unquote(password)
    return creds


def _options(query: dict[str, list[str]], allowed: set[str]) -> dict[str, str]:
    unknown = set(query) - allowed
    if unknown:
        raise ValueError(f"redis URL: unsupported option(s) {', '.join(sorted(unknown))}")
    return {name: values[-1] for name, values in query.items()}


def _standalone(url: str, options: dict[str, Any], max_connections: int, wait: float) -> Redis:
    # The blocking pool makes a caller wait for a free connection (up to ``wait``) where the
    # default pool would raise once ``max_connections`` are in use.
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=wait, **options)
    return Redis.from_pool(pool)


def _sentinel(
    netloc: str, path: str, query: dict[str, list[str]], options: dict[str, Any], max_connections: int
) -> tuple[Redis, Sentinel]:
    userinfo, _, hostlist = netloc.rpartition("@")
    extra = _options(query, {"sentinel_password"})
    service, _, db = path.strip("/").partition("/")
    if not service:
        raise ValueError("redis+sentinel URL: missing /service_name")
    if db and not db.isdigit():
        raise ValueError(f"redis+sentinel URL: bad db {db!r}")
    # Sentinels get the same timeouts and no-retry policy, never the master's credentials.
    sentinel_options = dict(options)
    if "sentinel_password" in extra:
        sentinel_options["password"] = extra["sentinel_password"]
    sentinel = Sentinel(
        _hosts(hostlist, 26379), sentinel_kwargs=sentinel_options, **options, **_credentials(userinfo)
    )
    master = sentinel.master_for(service, max_connections=max_connections, db=int(db or 0))
    return master, sentinel


def _cluster(
    netloc: str, query: dict[str, list[str]], options: dict[str, Any], max_connections: int
) -> RedisCluster:
    userinfo, _, hostlist = netloc.rpartition("@")
    _options(query, set())
    # The cluster client refreshes its topology inside its retry loop, and a refresh recycles
    # connections under concurrent commands (seen with redis-py 8.1: "Connection closed by
    # server" on a healthy cluster). Two immediate retries absorb that; the deadline still bounds
    # the call. Recycled connections still count against a node's pool for a moment, hence the
    # headroom: the store's own limit is what bounds concurrency.
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in _hosts(hostlist, 6379)],
        max_connections=2 * max_connections,
        **(options | {"retry": _retry(2)}),
        **_credentials(userinfo),
    )
