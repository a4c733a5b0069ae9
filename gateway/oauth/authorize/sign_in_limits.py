"""Password guessing costs the guesser, not the gateway (rule book SI-1).

Failed sign-ins are counted per account and per source address in fixed windows, in the store (so
every replica shares the count): past :data:`FAILURES_PER_ACCOUNT` failures for one account, or
:data:`FAILURES_PER_ADDRESS` from one address, within :data:`WINDOW` seconds, further attempts are
refused until the window ends, without checking the password (no scrypt spent, no oracle). An
account is counted under a digest of its name, so the store never lists who was targeted; the audit
line names that digest and the address, never the name typed.
"""

from __future__ import annotations

import hashlib

from gateway.clock import Clock
from gateway.rate_limits import WindowCounter
from gateway.store import Store

FAILURES_PER_ACCOUNT = 5
FAILURES_PER_ADDRESS = 20
WINDOW = 15 * 60


def account_digest(username: str) -> str:
    """A short, stable name for an account in counters and audit lines (not the name itself)."""
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class SignInLimits:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._accounts = WindowCounter(
            store, clock, name="sign-in-account", limit=FAILURES_PER_ACCOUNT, window=WINDOW
        )
        self._addresses = WindowCounter(
            store, clock, name="sign-in-address", limit=FAILURES_PER_ADDRESS, window=WINDOW
        )

    async def wait_before(self, username: str, address: str) -> int | None:
        """Seconds this account or address must wait before it may try again; None: it may now."""
        waits = [
            await self._accounts.exhausted(account_digest(username)),
            await self._addresses.exhausted(address),
        ]
        return max((wait for wait in waits if wait is not None), default=None)

    async def failed(self, username: str, address: str) -> None:
        await self._accounts.hit(account_digest(username))
        await self._addresses.hit(address)
