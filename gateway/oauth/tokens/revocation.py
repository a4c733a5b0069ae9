"""The ``jti`` deny-list shared by the authorization server and the resource side (RFC 7009; RV-1)."""

from __future__ import annotations

from gateway.clock import Clock
from gateway.store import Store

_REVOKED = "revoked:"
_CHILDREN = "exchanged-from:"


class RevocationList:
    """The ``jti`` deny-list shared by the authorization server and the resource side.

    Revocation cascades: every token exchanged from a revoked token (and from those, down the
    delegation chain) is revoked with it. The parent -> children index is an atomic list append
    at exchange time, so revoking stays one walk and checking stays one read.
    """

    _MAX_CASCADE_DEPTH = 16

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def revoke(self, jti: str, expires_at: float, _depth: int = 0) -> None:
        """Remember the revocation until the token would have expired anyway."""
        ttl = max(expires_at - self._clock.now(), 0) + 60
        await self._store.put(_REVOKED + jti, "1", ttl)
        if _depth >= self._MAX_CASCADE_DEPTH:
            return
        for child in await self._store.items(_CHILDREN + jti):
            child_jti, _, child_exp = child.rpartition(" ")
            await self.revoke(child_jti, float(child_exp), _depth + 1)

    async def is_revoked(self, jti: str) -> bool:
        return await self._store.get(_REVOKED + jti) is not None

    async def record_exchange(self, parent_jti: str, child_jti: str, child_exp: float) -> None:
        """Index a token exchanged from ``parent_jti`` so that revoking the parent reaches it."""
        ttl = max(child_exp - self._clock.now(), 0) + 60
        await self._store.append(_CHILDREN + parent_jti, f"{child_jti} {child_exp}", ttl)
        if await self.is_revoked(parent_jti):  # revoked while we were exchanging
            await self.revoke(child_jti, child_exp)
