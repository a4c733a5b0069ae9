"""The call gate of the networked stores (Redis, PostgreSQL), against a backend made of events.

A healthy burst larger than the slots waits its turn; a backend that stops answering fails every
caller closed, the queued ones included, within about one deadline; and the gate lets calls through
again as soon as the backend answers. Timeouts here only stop a test that would hang.
"""

from __future__ import annotations

import asyncio

import anyio
import pytest

from gateway.store import StoreUnavailable
from gateway.store.call_gate import CallGate

pytestmark = pytest.mark.anyio

DEADLINE = 0.2
SLOTS = 4
HANG_LIMIT = 10 * DEADLINE


class Backend:
    """Answers after ``delay`` seconds, or never while ``frozen``."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.thawed = asyncio.Event()
        self.thawed.set()
        self.in_flight = 0
        self.most_in_flight = 0

    async def answer(self) -> str:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.thawed.wait()
            await asyncio.sleep(self.delay)
            return "answer"
        finally:
            self.in_flight -= 1


async def burst(gate: CallGate, backend: Backend, size: int) -> list[object]:
    """``size`` calls at once; what each got, an answer or an exception."""
    return await asyncio.gather(*(gate.call(backend.answer) for _ in range(size)), return_exceptions=True)


async def test_a_healthy_burst_larger_than_the_slots_waits_its_turn() -> None:
    backend, gate = Backend(delay=DEADLINE / 4), CallGate("test", deadline=DEADLINE, slots=SLOTS)
    with anyio.fail_after(HANG_LIMIT * 5):
        answers = await burst(gate, backend, 5 * SLOTS)
    assert answers == ["answer"] * 5 * SLOTS
    assert backend.most_in_flight == SLOTS


async def test_a_silent_backend_fails_every_caller_closed_queued_ones_too_then_recovers() -> None:
    backend, gate = Backend(), CallGate("test", deadline=DEADLINE, slots=SLOTS)
    backend.thawed.clear()
    with anyio.fail_after(HANG_LIMIT):
        results = await burst(gate, backend, 10 * SLOTS)
    assert all(isinstance(result, StoreUnavailable) for result in results), results
    with anyio.fail_after(HANG_LIMIT):  # the free slots probe it; whoever would queue is refused
        again = await burst(gate, backend, 2 * SLOTS)
    assert all(isinstance(result, StoreUnavailable) for result in again), again
    assert any("refused without queueing" in str(result) for result in again), again
    assert backend.most_in_flight == SLOTS
    backend.thawed.set()
    with anyio.fail_after(HANG_LIMIT):
        while True:
            try:
                assert await gate.call(backend.answer) == "answer"
                break
            except StoreUnavailable:
                await asyncio.sleep(DEADLINE / 4)
        assert await burst(gate, backend, 3 * SLOTS) == ["answer"] * 3 * SLOTS
    await gate.close()


async def test_whatever_a_call_raises_becomes_store_unavailable() -> None:
    gate = CallGate("test", deadline=DEADLINE, slots=SLOTS)

    async def broken() -> None:
        raise ConnectionResetError("reset by peer")

    with pytest.raises(StoreUnavailable, match="test: ConnectionResetError: reset by peer"):
        await gate.call(broken)


async def test_closing_the_gate_ends_the_calls_in_flight() -> None:
    backend, gate = Backend(), CallGate("test", deadline=DEADLINE, slots=SLOTS)
    backend.thawed.clear()
    call = asyncio.ensure_future(gate.call(backend.answer))
    await asyncio.sleep(0)
    with anyio.fail_after(HANG_LIMIT):
        await gate.close()
        with pytest.raises(StoreUnavailable, match="closed"):
            await call
    assert backend.in_flight == 0
