"""What the fail-closed tests ask of a store: does it work, does every call fail closed, does it
work again by itself."""

from __future__ import annotations

import asyncio
import uuid

import anyio

from gateway.store import Store, StoreUnavailable


async def works(store: Store, key_prefix: str = "") -> None:
    key = key_prefix + uuid.uuid4().hex
    assert await store.add(key, "v", ttl=60) is True
    assert await store.take(key) == "v"


async def eventually_works(store: Store, key_prefix: str = "") -> None:
    """Sentinel and Cluster take a moment to serve a restarted master again; the store does not."""
    with anyio.fail_after(20):
        while True:
            try:
                return await works(store, key_prefix)
            except StoreUnavailable:
                await anyio.sleep(0.1)


async def every_call_fails_closed(store: Store, key: str = "k", collection: str = "c") -> None:
    """Every operation at once, each raising :class:`StoreUnavailable` (no test asserts how fast)."""
    results = await asyncio.gather(
        store.get_record(collection, "r"),
        store.put_record(collection, "r", "v"),
        store.delete_record(collection, "r"),
        store.list_records(collection),
        store.add(key, "v", ttl=60),
        store.get(key),
        store.put(key, "v", ttl=60),
        store.take(key),
        store.delete(key),
        store.swap(key, "v", "w", ttl=60),
        store.append(key, "v", ttl=60),
        store.items(key),
        return_exceptions=True,
    )
    assert all(isinstance(result, StoreUnavailable) for result in results), results
