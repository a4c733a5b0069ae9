"""Redis store: what several gateway replicas share.

One URL picks the deployment shape:

* ``redis://`` / ``rediss://`` - one server (redis-py's own URL syntax and query options);
* ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db]`` - the
  master that the Sentinels name, rediscovered on every new connection so a failover is
  followed. The password is the master's; ``?sentinel_password=`` authenticates to Sentinels;
* ``redis+cluster://[[user]:password@]host:port[,host:port...]`` - Redis Cluster, the hosts
  being startup nodes.

Every URL accepts ``?key_prefix=`` (default ``mcpgw:``) so several gateways can share a server.

Layout: a collection of records is one hash (``<prefix>rec:<collection>``); an ephemeral key is
one string (``<prefix>eph:<key>``) with a millisecond TTL. ``SET NX PX`` makes ``add`` atomic
and ``GETDEL`` makes ``take`` single-use, and a small Lua script makes ``swap`` a compare-and-set,
on every shape (each touches a single key).

Fail closed, fast: socket timeouts are short (0.25 s, five eighths of the deadline), redis-py's
retries are off (its default of 10 retries with backoff would hold a request for seconds; Cluster
keeps two immediate ones), and each call goes through a :class:`~gateway.store.call_gate.CallGate`:
one overall deadline (0.4 s unless the setting ``store_deadline_ms`` says otherwise) covering the
wait for a free slot, connecting, and the reply. When Redis is down or frozen every call raises
:class:`~gateway.store.StoreUnavailable` by then; connections are re-established by later calls, so
the same object works again when Redis is back. No retry loop hides an outage: callers answer 503
and the next request tries again.

Concurrency is bounded (64 commands in flight per store by default, and as many pooled
connections per server): extra callers wait for a free slot instead of failing.

A command whose reply is lost (timeout, dropped connection, a Cluster retry) may still have taken
effect: a later ``add`` of that key then answers False and a later ``take`` None. A lost reply
can cost a legitimate request; it never lets a replay through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.store.call_gate import CallGate
from gateway.store.redis_connection import connect

T = TypeVar("T")

DEFAULT_PREFIX = "mcpgw:"

# Compare-and-set in one step: Redis runs a script atomically, and one key keeps it on one slot.
_APPEND = """
redis.call('RPUSH', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""

_SWAP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
    return 1
end
return 0
"""


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class RedisStore:
    """The :class:`~gateway.store.Store` protocol on Redis (standalone, Sentinel or Cluster).

    Connecting is lazy; call :meth:`ping` at startup. It fails fast on a wrong URL and, for
    Cluster, loads the slot map before the first burst of requests: redis-py 8.1 loading it
    under many concurrent first commands fails some of them.
    """

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = DEFAULT_PREFIX,
        socket_timeout: float | None = None,
        deadline: float = 0.4,
        max_connections: int = 64,
    ) -> None:
        """``socket_timeout`` (connecting, each read): by default five eighths of ``deadline`` (0.25 s
        of 0.4 s), so a stalled socket is given up while the caller still waits for the gate."""
        connection = connect(
            url,
            key_prefix=key_prefix,
            socket_timeout=deadline * 5 / 8 if socket_timeout is None else socket_timeout,
            deadline=deadline,
            max_connections=max_connections,
        )
        self._client, self._sentinel = connection.client, connection.sentinel
        key_prefix = connection.key_prefix
        self._records = f"{key_prefix}rec:"
        self._keys = f"{key_prefix}eph:"
        self._gate = CallGate("redis", deadline=deadline, slots=max_connections)

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """One Redis command through the gate (:mod:`gateway.store.call_gate`): bounded, under the
        deadline, and whatever goes wrong (mostly ConnectionError, TimeoutError, ClusterDownError;
        but redis-py's cluster client can also fail with e.g. AttributeError when a topology refresh
        closes a connection under a concurrent command) becomes StoreUnavailable."""
        return await self._gate.call(operation)

    # -- durable records -----------------------------------------------------------------------
    async def get_record(self, collection: str, record_id: str) -> str | None:
        key = self._records + collection
        return _text(await self._call(lambda: self._client.hget(key, record_id)))

    async def put_record(self, collection: str, record_id: str, value: str) -> None:
        key = self._records + collection
        await self._call(lambda: self._client.hset(key, record_id, value))

    async def delete_record(self, collection: str, record_id: str) -> bool:
        key = self._records + collection
        return await self._call(lambda: self._client.hdel(key, record_id)) > 0

    async def list_records(self, collection: str) -> dict[str, str]:
        key = self._records + collection
        found = await self._call(lambda: self._client.hgetall(key))
        return {str(_text(k)): str(_text(v)) for k, v in found.items()}

    # -- ephemeral keys ------------------------------------------------------------------------
    @staticmethod
    def _ms(ttl: float) -> int:
        return max(1, round(ttl * 1000))

    async def add(self, key: str, value: str, ttl: float) -> bool:
        name, ms = self._keys + key, self._ms(ttl)
        return bool(await self._call(lambda: self._client.set(name, value, nx=True, px=ms)))

    async def get(self, key: str) -> str | None:
        name = self._keys + key
        return _text(await self._call(lambda: self._client.get(name)))

    async def put(self, key: str, value: str, ttl: float) -> None:
        name, ms = self._keys + key, self._ms(ttl)
        await self._call(lambda: self._client.set(name, value, px=ms))

    async def take(self, key: str) -> str | None:
        name = self._keys + key
        return _text(await self._call(lambda: self._client.getdel(name)))

    async def delete(self, key: str) -> None:
        name = self._keys + key
        await self._call(lambda: self._client.delete(name))

    async def swap(self, key: str, expected: str, value: str, ttl: float) -> bool:
        name, ms = self._keys + key, self._ms(ttl)
        return bool(await self._call(lambda: self._client.eval(_SWAP, 1, name, expected, value, ms)))

    async def append(self, key: str, item: str, ttl: float) -> None:
        name, ms = self._keys + key, self._ms(ttl)
        await self._call(lambda: self._client.eval(_APPEND, 1, name, item, ms))

    async def items(self, key: str) -> list[str]:
        name = self._keys + key
        found = await self._call(lambda: self._client.lrange(name, 0, -1))
        return [str(_text(item)) for item in found]

    # -- lifecycle -----------------------------------------------------------------------------
    async def ping(self) -> None:
        await self._call(lambda: self._client.ping())

    async def close(self) -> None:
        await self._gate.close()
        await self._client.aclose()
        if self._sentinel is not None:
            await self._sentinel.aclose()
