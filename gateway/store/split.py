"""Durable records in one store, the hot keys in another: PostgreSQL beside Redis.

A production deployment keeps what must last (clients, keys, users, grants, requests, the tool
registry) in a database it backs up, and the short-lived shared state every request touches
(assertion ``jti`` replay, the revocation deny-list, codes, sessions, rate limits, not-before marks,
approval votes) in Redis, whose single-key operations are what those facts need. The
:class:`~gateway.store.Store` contract already divides its operations that way, so the split is a
routing of calls and nothing else: no operation spans the two stores.

``hot_store`` names the second store; unset, the one store holds both, as before.
"""

from __future__ import annotations

from gateway.store import Store


class SplitStore:
    def __init__(self, records: Store, keys: Store) -> None:
        self.records = records
        self.keys = keys

    # -- durable records: the database ---------------------------------------------------------
    async def get_record(self, collection: str, record_id: str) -> str | None:
        return await self.records.get_record(collection, record_id)

    async def put_record(self, collection: str, record_id: str, value: str) -> None:
        await self.records.put_record(collection, record_id, value)

    async def delete_record(self, collection: str, record_id: str) -> bool:
        return await self.records.delete_record(collection, record_id)

    async def list_records(self, collection: str) -> dict[str, str]:
        return await self.records.list_records(collection)

    # -- ephemeral keys: the hot store ---------------------------------------------------------
    async def add(self, key: str, value: str, ttl: float) -> bool:
        return await self.keys.add(key, value, ttl)

    async def get(self, key: str) -> str | None:
        return await self.keys.get(key)

    async def put(self, key: str, value: str, ttl: float) -> None:
        await self.keys.put(key, value, ttl)

    async def take(self, key: str) -> str | None:
        return await self.keys.take(key)

    async def delete(self, key: str) -> None:
        await self.keys.delete(key)

    async def swap(self, key: str, expected: str, value: str, ttl: float) -> bool:
        return await self.keys.swap(key, expected, value, ttl)

    async def append(self, key: str, item: str, ttl: float) -> None:
        await self.keys.append(key, item, ttl)

    async def items(self, key: str) -> list[str]:
        return await self.keys.items(key)

    # -- lifecycle -----------------------------------------------------------------------------
    async def ping(self) -> None:
        """Unavailable when either store is: a request may need both."""
        await self.records.ping()
        await self.keys.ping()

    async def close(self) -> None:
        try:
            await self.keys.close()
        finally:
            await self.records.close()
