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

Fail closed, fast: socket timeouts are short (0.25 s), redis-py's retries are off (its default
of 10 retries with backoff would hold a request for seconds; Cluster keeps two immediate ones),
and each call has one overall deadline (0.4 s) covering the wait for a free slot, connecting, and
the reply. When Redis is down or frozen every call raises :class:`StoreUnavailable` by then;
connections are re-established by later calls, so the same object works again when Redis is
back. No retry loop hides an outage: callers answer 503 and the next request tries again.

Concurrency is bounded (64 commands in flight per store by default, and as many pooled
connections per server): extra callers wait for a free slot instead of failing, until the
deadline.

A command whose reply is lost (timeout, dropped connection, a Cluster retry) may still have taken
effect: a later ``add`` of that key then answers False and a later ``take`` None. A lost reply
can cost a legitimate request; it never lets a replay through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gateway.store import StoreUnavailable
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
        socket_timeout: float = 0.25,
        deadline: float = 0.4,
        max_connections: int = 64,
    ) -> None:
        connection = connect(
            url,
            key_prefix=key_prefix,
            socket_timeout=socket_timeout,
            deadline=deadline,
            max_connections=max_connections,
        )
        self._client, self._sentinel = connection.client, connection.sentinel
        key_prefix = connection.key_prefix
        self._records = f"{key_prefix}rec:"
        self._keys = f"{key_prefix}eph:"
        self._deadline = deadline
        self._slots = asyncio.Semaphore(max_connections)
        self._queue_limit = 5 * deadline
        self._unresponsive_until = 0.0
        self._in_flight: set[asyncio.Future[Any]] = set()

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis command under the deadline; any failure becomes StoreUnavailable.

        The command runs in its own task and the caller stops waiting at the deadline. A
        cooperative timeout around the command is not enough: on Python 3.11, redis-py's inner
        ``asyncio.wait_for`` can swallow the cancellation, and the call then runs into a further
        socket timeout. An abandoned command is cancelled and keeps its slot until it ends.
        """
        await self._acquire_slot()
        task = asyncio.ensure_future(operation())
        self._in_flight.add(task)
        task.add_done_callback(self._finished)
        try:
            done, _ = await asyncio.wait((task,), timeout=self._deadline)
        except BaseException:  # the caller was cancelled: so is its command
            task.cancel()
            raise
        if not done:
            task.cancel()
            self._unresponsive_until = asyncio.get_running_loop().time() + self._deadline
            raise StoreUnavailable(f"redis: no answer within {self._deadline} s")
        if task.cancelled():  # by close()
            raise StoreUnavailable("redis: the store was closed")
        try:
            return task.result()
        except Exception as exc:
            # Mostly ConnectionError, TimeoutError, ClusterDownError; but redis-py's cluster
            # client can also fail with e.g. AttributeError when a topology refresh closes a
            # connection under a concurrent command. Whatever it is, Redis did not answer.
            raise StoreUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc

    async def _acquire_slot(self) -> None:
        """Wait for one of the bounded connections. The deadline is for Redis to answer, not for
        this queue: a burst of healthy requests waits its turn. But while Redis has just failed to
        answer, a caller that would have to queue is refused at once instead of piling up."""
        loop = asyncio.get_running_loop()
        if self._slots.locked() and loop.time() < self._unresponsive_until:
            raise StoreUnavailable("redis: not answering; refused without queueing")
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self._queue_limit)
        except TimeoutError:
            raise StoreUnavailable(f"redis: no free connection within {self._queue_limit} s") from None

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._slots.release()
        self._in_flight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an abandoned command's error is not worth a log line

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
        for task in self._in_flight:
            task.cancel()
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=self._deadline)
        await self._client.aclose()
        if self._sentinel is not None:
            await self._sentinel.aclose()
