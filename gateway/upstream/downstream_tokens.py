"""Downstream tokens for forwarded tool calls: token exchange without HTTP, cached.

The agent's token never leaves the gateway (PR-5). For each call the gateway exchanges it for a
token for the upstream's audience and the tool's scopes, with ``act.sub`` naming the agent. The
same (agent token, audience, scopes) is served from an in-process cache until shortly before the
downstream token expires: minting costs less than a Redis round trip, but not nothing, and the
cache is bounded (LRU). Revocation is unaffected: the agent token's ``jti`` is checked on every
request before a downstream token is looked up, and revoking it cascades to what was minted here.
"""

from __future__ import annotations

from collections import OrderedDict

from gateway.claims import Claims
from gateway.clock import Clock
from gateway.oauth.exchange.rules import TokenExchanger


class DownstreamTokens:
    def __init__(
        self, exchanger: TokenExchanger, clock: Clock, max_entries: int = 10_000, renew_before: float = 30.0
    ) -> None:
        self._exchanger = exchanger
        self._clock = clock
        self._max_entries = max_entries
        self._renew_before = renew_before
        self._cache: OrderedDict[tuple[str, str, tuple[str, ...]], tuple[str, float, float]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def token_for(self, subject: Claims, audience: str, scopes: tuple[str, ...]) -> str:
        """A token for ``audience`` with exactly ``scopes``, delegated by the agent of ``subject``."""
        key = (subject.jti, audience, scopes)
        now = self._clock.now()
        cached = self._cache.get(key)
        if cached is not None:
            token, issued_at, expires_at = cached
            if now < expires_at - min(self._renew_before, (expires_at - issued_at) / 4):
                self._cache.move_to_end(key)
                self.hits += 1
                return token
        self.misses += 1
        issued = await self._exchanger.exchange(
            subject=subject,
            requester=subject.client_id,
            audiences=(audience,),
            requested_scopes=scopes,
            actor=subject.client_id,
        )
        self._cache[key] = (issued.token, float(issued.claims["iat"]), float(issued.claims["exp"]))
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return issued.token

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
