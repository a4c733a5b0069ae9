"""Background work under supervision: work that stops is logged, audited and started again.

The gateway's long-running work (today the catalogue refresher) runs under a :class:`Supervisor`
started by the application's lifespan. Work is written to run until cancelled; if it ends or
raises anyway, the supervisor logs and audits why (the exception's type only: a message may quote
what it was given), waits ``backoff`` seconds and starts it again (UP-1). What happened is kept in
:class:`TaskState`, in this replica's memory, for the operators' health report (AD-3).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from gateway.audit import AuditLog
from gateway.clock import Clock

logger = logging.getLogger("mcp_gateway")


@dataclass
class TaskState:
    """One supervised task as this replica sees it; times are seconds since the epoch."""

    name: str
    running: bool = False
    started_at: float | None = None
    """When the work was (last) started."""
    restarts: int = 0
    last_crash: str | None = None
    """Why the work last stopped: the exception's type, or ``"ended"`` when it returned."""
    last_crash_at: float | None = None


class Supervisor:
    """Runs ``work`` until cancelled, starting it again ``backoff`` seconds after it stops."""

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[None]],
        *,
        clock: Clock,
        audit: AuditLog,
        backoff: float = 1.0,
    ) -> None:
        self.state = TaskState(name)
        self._work = work
        self._clock = clock
        self._audit = audit
        self._backoff = backoff

    async def run(self) -> None:
        """Until cancelled; cancellation is the only way out."""
        state = self.state
        while True:
            state.running, state.started_at = True, self._clock.now()
            try:
                with self._audit.entered_via("background"):
                    await self._work()
                reason = "ended"
            except Exception as exc:  # supervision: the work is started again, whatever it raised
                reason = type(exc).__name__
            finally:
                state.running = False
            state.restarts += 1
            state.last_crash, state.last_crash_at = reason, self._clock.now()
            logger.error("background task %s stopped (%s); starting it again", state.name, reason)
            with self._audit.entered_via("background"):
                self._audit.record("background_task", outcome="restarted", task=state.name, reason=reason)
            await anyio.sleep(self._backoff)
