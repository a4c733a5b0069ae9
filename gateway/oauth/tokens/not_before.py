"""De-provisioning: "nothing issued to this person, this client or under this grant before now is
good any more" (rule book RV-2, AP-2).

Removing a user or a client moves its *not-before* mark to the moment of removal. Everything the
gateway issued or remembered for that principal carries the instant it was made, and is honoured
only when made strictly after the mark: access and downstream tokens (``iat``), refresh-token families
(their creation), authorization codes, sign-in sessions and remembered consent. So one write
revokes them all, without an index of what each principal holds, and a principal added again
under the same name starts clean. Revoking (or suspending) an approved grant moves the grant's
mark: every token whose ``grants`` claim names it ends, and nothing else does. Revoking a client's
tokens (the console's "revoke every token now") moves a third mark: what was issued to the client
ends, while the client and its grants stay.

The marks are records in the store (every replica and the CLI share them). The hot path reads them
from memory: the snapshot is refreshed from the store at most every :data:`MAX_STALENESS` seconds,
so a removal made by another process takes effect within that bound (at once in the process that
made it). When the store cannot answer, the refresh raises and the request fails closed.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.claims import Claims
from gateway.clock import Clock
from gateway.store import Store

COLLECTION = "not_before"
MAX_STALENESS = 1.0
"""Seconds a replica may go on honouring what a removal made in another process revoked."""


class NotBeforeMarks:
    def __init__(self, store: Store, clock: Clock, max_staleness: float = MAX_STALENESS) -> None:
        self._store = store
        self._clock = clock
        self._max_staleness = max_staleness
        self._marks: Mapping[str, float] = {}
        self._loaded_at: float | None = None

    async def revoke_subject(self, subject: str) -> None:
        """A person (built-in or federated) is gone: everything issued for them before now ends."""
        await self._mark(f"sub:{subject}")

    async def revoke_client(self, client_id: str) -> None:
        """A client is gone: everything issued to it before now ends."""
        await self._mark(f"client:{client_id}")

    async def revoke_client_tokens(self, client_id: str) -> None:
        """Everything issued to the client before now ends (tokens, refresh families, codes,
        remembered consent); the client and its grants stay, and it may ask for tokens again."""
        await self._mark(f"tokens:{client_id}")

    async def revoke_grant(self, grant_id: str) -> None:
        """A grant is revoked or suspended: every token carrying it (``grants`` claim) ends (AP-2)."""
        await self._mark(f"grant:{grant_id}")

    async def _mark(self, key: str) -> None:
        await self._store.put_record(COLLECTION, key, repr(self._clock.now()))
        self._loaded_at = None  # this process sees its own removal at once

    async def allows(self, *, at: float, subject: str | None = None, client_id: str | None = None) -> bool:
        """Whether something issued at ``at`` for ``subject`` and ``client_id`` is still good:
        neither was removed since, nor were the client's tokens revoked since."""
        if not await self.not_removed_since(at=at, subject=subject, client_id=client_id):
            return False
        return client_id is None or _after(at, self._marks.get(f"tokens:{client_id}"))

    async def not_removed_since(
        self, *, at: float, subject: str | None = None, client_id: str | None = None
    ) -> bool:
        """Whether neither ``subject`` nor ``client_id`` was removed after ``at``: what a grant or
        an access request made at ``at`` needs to still belong to them."""
        marks = await self._current()
        return _after(at, marks.get(f"sub:{subject}") if subject else None) and _after(
            at, marks.get(f"client:{client_id}") if client_id else None
        )

    async def allows_token(self, claims: Claims) -> bool:
        """Neither its subject, nor its client, nor a grant it carries was revoked after it was made."""
        if not await self.allows(at=claims.issued_at, subject=claims.subject, client_id=claims.client_id):
            return False
        marks = self._marks
        return all(claims.issued_at > marks.get(f"grant:{grant}", -1.0) for grant in claims.grants)

    async def _current(self) -> Mapping[str, float]:
        now = self._clock.now()
        if self._loaded_at is None or now - self._loaded_at >= self._max_staleness:
            records = await self._store.list_records(COLLECTION)
            self._marks = {key: float(value) for key, value in records.items()}
            self._loaded_at = now
        return self._marks


def _after(at: float, mark: float | None) -> bool:
    """Made strictly after the mark (made at the very instant of a removal: revoked too)."""
    return mark is None or at > mark
