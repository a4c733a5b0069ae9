"""Calls to a networked store, bounded in number and in time: what makes a store fail closed fast.

Each call runs in its own task and its caller stops waiting at a deadline, then gets
:class:`StoreUnavailable`. A cooperative timeout around the call is not enough: a driver can swallow
the cancellation (redis-py's inner ``asyncio.wait_for`` on Python 3.11 does) and then run into a
further timeout of its own. An abandoned call is cancelled and keeps its slot until it ends, so the
number of calls in flight never exceeds the slots, whatever the backend does.

When all slots are taken, callers queue: a burst of healthy requests waits its turn (up to five
deadlines). But once a call has gone unanswered for a whole deadline the backend is *silent*: the
callers queued then are refused at once, and so is anyone who would have to queue, until a call
gets an answer again. A caller therefore waits about one deadline at most for a backend that has
stopped answering, however many arrive together; the free slots keep probing it.

Whatever a call raises becomes :class:`StoreUnavailable`: the backend did not answer as it should,
and the caller fails closed. No retry loop hides an outage: the next request tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gateway.store import StoreUnavailable

T = TypeVar("T")


class CallGate:
    """``slots`` calls in flight at most; each caller waits ``deadline`` seconds for its answer."""

    def __init__(self, backend: str, *, deadline: float, slots: int) -> None:
        self._backend = backend
        self._deadline = deadline
        self._slots = asyncio.Semaphore(slots)
        self._queue_limit = 5 * deadline
        self._silent = asyncio.Event()
        self._in_flight: set[asyncio.Future[Any]] = set()

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        await self._acquire_slot()
        task = asyncio.ensure_future(operation())
        self._in_flight.add(task)
        task.add_done_callback(self._finished)
        try:
            done, _ = await asyncio.wait((task,), timeout=self._deadline)
        except BaseException:  # the caller was cancelled: so is its call
            task.cancel()
            raise
        if not done:
            task.cancel()
            self._silent.set()
            raise StoreUnavailable(f"{self._backend}: no answer within {self._deadline} s")
        if task.cancelled():  # by close()
            raise StoreUnavailable(f"{self._backend}: the store was closed")
        self._silent.clear()  # it answered, if only with an error
        try:
            return task.result()
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"{self._backend}: {type(exc).__name__}: {exc}") from exc

    async def _acquire_slot(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: taken without waiting
            return
        if self._silent.is_set():
            raise StoreUnavailable(f"{self._backend}: not answering; refused without queueing")
        slot = asyncio.ensure_future(self._slots.acquire())
        silence = asyncio.ensure_future(self._silent.wait())
        try:
            first = asyncio.FIRST_COMPLETED
            await asyncio.wait((slot, silence), timeout=self._queue_limit, return_when=first)
        finally:
            silence.cancel()
            slot.cancel()  # nothing to cancel once it holds the slot; a cancelled wait holds none
        holds_slot = slot.done() and not slot.cancelled()
        if holds_slot and not self._silent.is_set():
            return
        if holds_slot:
            self._slots.release()
        if self._silent.is_set():
            raise StoreUnavailable(f"{self._backend}: stopped answering while this call queued")
        raise StoreUnavailable(f"{self._backend}: no free connection within {self._queue_limit} s")

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._slots.release()
        self._in_flight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an abandoned call's error is not worth a log line

    async def close(self) -> None:
        """Cancel the calls in flight and give them the deadline to end."""
        for task in self._in_flight:
            task.cancel()
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=self._deadline)
