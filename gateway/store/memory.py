"""In-process store for unit tests. Never what a user runs: nothing survives a restart and
replicas cannot share it."""

from __future__ import annotations

from gateway.clock import Clock, SystemClock


class MemoryStore:
    """TTLs are measured on ``clock`` (the system clock by default), so a test that builds the
    store with a :class:`~gateway.clock.FrozenClock` lets keys expire by advancing it."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._records: dict[str, dict[str, str]] = {}
        self._keys: dict[str, tuple[str, float]] = {}
        self._lists: dict[str, tuple[list[str], float]] = {}

    async def get_record(self, collection: str, record_id: str) -> str | None:
        return self._records.get(collection, {}).get(record_id)

    async def put_record(self, collection: str, record_id: str, value: str) -> None:
        self._records.setdefault(collection, {})[record_id] = value

    async def delete_record(self, collection: str, record_id: str) -> bool:
        return self._records.get(collection, {}).pop(record_id, None) is not None

    async def list_records(self, collection: str) -> dict[str, str]:
        return dict(self._records.get(collection, {}))

    def _live(self, key: str) -> str | None:
        entry = self._keys.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at <= self._clock.now():
            del self._keys[key]
            return None
        return value

    async def add(self, key: str, value: str, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        self._keys[key] = (value, self._clock.now() + ttl)
        return True

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def put(self, key: str, value: str, ttl: float) -> None:
        self._keys[key] = (value, self._clock.now() + ttl)

    async def take(self, key: str) -> str | None:
        value = self._live(key)
        self._keys.pop(key, None)
        return value

    async def delete(self, key: str) -> None:
        self._keys.pop(key, None)

    async def swap(self, key: str, expected: str, value: str, ttl: float) -> bool:
        if self._live(key) != expected:
            return False
        self._keys[key] = (value, self._clock.now() + ttl)
        return True

    async def append(self, key: str, item: str, ttl: float) -> None:
        items, expires_at = self._lists.get(key, ([], 0.0))
        if expires_at <= self._clock.now():
            items = []
        self._lists[key] = ([*items, item], max(expires_at, self._clock.now() + ttl))

    async def items(self, key: str) -> list[str]:
        items, expires_at = self._lists.get(key, ([], 0.0))
        return list(items) if expires_at > self._clock.now() else []

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
