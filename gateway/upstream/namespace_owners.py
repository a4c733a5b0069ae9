"""Who owns which namespace: the people a tool author's registrations are limited to (AD-9).

A namespace is a server id (tool ``t`` of server ``s`` is exposed as ``s__t``), so owning one is
owning what is exposed under that prefix. A namespace may have several owners; a person may own
several namespaces. The records are kept in the store (collection ``namespace_owners``, one record
per namespace: the sorted list of its owners' subjects), so every replica, the CLI and the console
read the same ones. Only a security admin grants and withdraws ownership
(:class:`~gateway.upstream.registration.Registrations` checks that and audits it); this class only
keeps the records.

    >>> checked_person(" cli:alice ")
    'cli:alice'
"""

from __future__ import annotations

import json
from typing import Protocol

from gateway.errors import InvalidRequest
from tools_registry.server_fields import RegistryError, check_id

COLLECTION = "namespace_owners"
MAX_PERSON = 200


class OwnerRecords(Protocol):
    """The part of the store kept here: durable JSON records by collection."""

    async def get_record(self, collection: str, record_id: str) -> str | None: ...

    async def put_record(self, collection: str, record_id: str, value: str) -> None: ...

    async def delete_record(self, collection: str, record_id: str) -> bool: ...

    async def list_records(self, collection: str) -> dict[str, str]: ...


def checked_namespace(namespace: str) -> str:
    """A namespace is named like a server id (the id it will be, or is)."""
    try:
        check_id(namespace)
    except RegistryError as exc:
        raise InvalidRequest(f"namespace: {exc}") from None
    return namespace


def checked_person(person: str) -> str:
    """A person's subject as the token, the session or ``--as`` names them (``cli:<name>``)."""
    person = person.strip()
    if not person or len(person) > MAX_PERSON or not person.isprintable():
        raise InvalidRequest(f"person must be a subject of 1 to {MAX_PERSON} printable characters")
    return person


class NamespaceOwners:
    def __init__(self, store: OwnerRecords) -> None:
        self._store = store

    async def owners_of(self, namespace: str) -> tuple[str, ...]:
        value = await self._store.get_record(COLLECTION, namespace)
        return tuple(json.loads(value)) if value is not None else ()

    async def every(self) -> dict[str, tuple[str, ...]]:
        """Every namespace that has an owner, with its owners, sorted by namespace."""
        records = await self._store.list_records(COLLECTION)
        return {namespace: tuple(json.loads(records[namespace])) for namespace in sorted(records)}

    async def owns(self, person: str, namespace: str) -> bool:
        return person in await self.owners_of(namespace)

    async def grant(self, namespace: str, person: str) -> tuple[str, ...]:
        """Add ``person`` to the owners of ``namespace``; its owners after (granting twice is one)."""
        owners = tuple(sorted({*await self.owners_of(namespace), person}))
        await self._store.put_record(COLLECTION, namespace, json.dumps(owners))
        return owners

    async def revoke(self, namespace: str, person: str) -> tuple[str, ...] | None:
        """Withdraw ``person``'s ownership; the owners after, or None when they owned nothing here."""
        before = await self.owners_of(namespace)
        if person not in before:
            return None
        owners = tuple(owner for owner in before if owner != person)
        if owners:
            await self._store.put_record(COLLECTION, namespace, json.dumps(owners))
        else:
            await self._store.delete_record(COLLECTION, namespace)
        return owners


__all__ = ["COLLECTION", "NamespaceOwners", "OwnerRecords", "checked_namespace", "checked_person"]
