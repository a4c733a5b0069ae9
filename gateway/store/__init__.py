"""The state seam: one async interface, several backends with the same contract tests.

Two kinds of state:

* **records**: durable documents in named collections (clients, signing keys, later upstream
  servers). ``collection`` + ``record_id`` -> JSON text. Listing a collection is cheap because
  collections are small.
* **ephemeral keys**: single-use and expiring facts (assertion ``jti`` replay, the revocation
  deny-list, authorization codes). ``add`` is add-if-absent with a TTL, ``take`` is a single-use
  read-and-delete.

The store knows nothing of OAuth. When a backend cannot answer it raises
:class:`StoreUnavailable` quickly; callers fail closed on it.
"""

from __future__ import annotations

import hashlib
from typing import Protocol


def digest(value: str) -> str:
    """SHA-256 (hex) of a secret handle: such handles (codes, refresh tokens, session and state
    ids) are kept under their digest, so a copy of the store yields no usable handle."""
    return hashlib.sha256(value.encode()).hexdigest()


class StoreUnavailable(Exception):
    """The backend did not answer (connection refused, timeout, locked database)."""


class SchemaNotCurrent(Exception):
    """The backend answers, but its schema is not the one this gateway needs: an operator has to
    run ``mcp-gateway migrate`` (or a newer gateway). The message is one line that says so."""


class Store(Protocol):
    # -- durable records ---------------------------------------------------------------------
    async def get_record(self, collection: str, record_id: str) -> str | None: ...

    async def put_record(self, collection: str, record_id: str, value: str) -> None: ...

    async def delete_record(self, collection: str, record_id: str) -> bool:
        """True when a record was deleted."""
        ...

    async def list_records(self, collection: str) -> dict[str, str]: ...

    # -- ephemeral keys ----------------------------------------------------------------------
    async def add(self, key: str, value: str, ttl: float) -> bool:
        """Set ``key`` only if absent (or expired); True when this call set it."""
        ...

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, ttl: float) -> None: ...

    async def take(self, key: str) -> str | None:
        """Read and delete in one step: of many concurrent callers, at most one gets the value."""
        ...

    async def delete(self, key: str) -> None: ...

    async def swap(self, key: str, expected: str, value: str, ttl: float) -> bool:
        """Compare-and-set: replace ``key`` with ``value`` only while it still holds ``expected``."""
        ...

    async def append(self, key: str, item: str, ttl: float) -> None:
        """Add ``item`` to the list at ``key`` atomically; the list lives at least ``ttl`` more
        seconds (many concurrent appends to one key all land, with no retry loop)."""
        ...

    async def items(self, key: str) -> list[str]:
        """The live items of the list at ``key``, in append order."""
        ...

    # -- lifecycle ---------------------------------------------------------------------------
    async def ping(self) -> None:
        """Raise :class:`StoreUnavailable` when the backend cannot answer."""
        ...

    async def close(self) -> None: ...


__all__ = ["SchemaNotCurrent", "Store", "StoreUnavailable", "digest"]
