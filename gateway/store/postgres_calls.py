"""Calls on a PostgreSQL database through a lazy asyncpg pool and a :class:`CallGate`.

What the store (:mod:`gateway.store.postgres`) and the audit trail
(:mod:`gateway.audit.postgres_store`) share: one pool of ``max_connections`` connections, made
on the first call in the event loop that serves; the schema checked on the first connection that
answers (a schema that is not current makes every call fail, saying what to run); and every call
bounded by one ``deadline``, which also bounds connecting, each statement on the client and each
statement on the server (``statement_timeout``). A session that sits idle inside a transaction
longer than that is ended by the server too (``idle_in_transaction_session_timeout``), so a caller
that gave up in the middle of a transaction never leaves a lock held behind it.

Whatever goes wrong becomes :class:`~gateway.store.StoreUnavailable` within about one deadline;
later calls reconnect, so the same object works again when the server is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from gateway.store import SchemaNotCurrent, StoreUnavailable
from gateway.store.call_gate import CallGate
from gateway.store.postgres_connection import Connection, check_url, connect_options
from gateway.store.postgres_migrations import require_current, schema_version

T = TypeVar("T")


async def _keep_session(connection: asyncpg.Connection) -> None:
    """A connection goes back to the pool as it is: no statement here changes session state."""


class PostgresCalls:
    """Calls on the database ``url`` names: ``max_connections`` at once, each within ``deadline``."""

    def __init__(
        self, url: str, *, deadline: float, max_connections: int, backend: str = "postgresql"
    ) -> None:
        check_url(url)
        self._options = connect_options(url, connect_timeout=deadline, statement_timeout=deadline)
        self._options["server_settings"]["idle_in_transaction_session_timeout"] = (
            f"{max(1, round(deadline * 1000))}ms"
        )
        self._deadline = deadline
        self._size = max_connections
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._schema_checked = False
        self._gate = CallGate(backend, deadline=deadline, slots=max_connections)

    async def _connections(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:  # min_size=0: making the pool connects nothing
                self._pool = await asyncpg.create_pool(
                    min_size=0, max_size=self._size, reset=_keep_session, **self._options
                )
            return self._pool

    async def run(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """``work`` on one pooled connection, through the gate."""

        async def attempt() -> T:
            pool = self._pool or await self._connections()
            async with pool.acquire(timeout=self._deadline) as connection:
                if not self._schema_checked:
                    try:
                        require_current(await schema_version(connection))
                    except SchemaNotCurrent as exc:
                        raise StoreUnavailable(str(exc)) from exc
                    self._schema_checked = True
                return await work(connection)

        return await self._gate.call(attempt)

    async def close(self) -> None:
        """Cancel the calls in flight, then close the pool (ended at once if it will not close)."""
        await self._gate.close()
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), timeout=self._deadline)
            except (TimeoutError, OSError, asyncpg.InterfaceError):
                self._pool.terminate()
