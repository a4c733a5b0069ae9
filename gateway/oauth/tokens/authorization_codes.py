"""Authorization codes (CO-3): single-use, short-lived, bound to everything asked for.

A code is kept under the SHA-256 of its value. Redeeming it is check-then-claim: a wrong verifier
does not consume the code. A valid redemption claims the code by adding, atomically and only if
absent, a tombstone naming the ``jti`` and refresh family it is *about* to issue; of many
concurrent valid redemptions exactly one adds it. Every other valid redemption, concurrent or
later (the code leaked and the legitimate client already used it), finds the tombstone and
revokes what it names — even before those tokens exist, since revocation is by id. An invalid
replay is simply refused.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace

from gateway.clock import Clock
from gateway.store import Store, digest

_CODE = "code:"
_USED = "code-used:"


@dataclass(frozen=True)
class CodeGrant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    resource: str
    scopes: tuple[str, ...]
    subject: str
    issued_at: float = 0.0
    """When the code was issued (a user or client removed since then voids it, RV-2)."""


@dataclass(frozen=True)
class IssuedFromCode:
    """What the first redemption issued: revoked if the code is ever validly replayed."""

    jti: str
    exp: float
    family: str | None


def _decode(value: str) -> CodeGrant:
    data = json.loads(value)
    data["scopes"] = tuple(data["scopes"])
    return CodeGrant(**data)


class AuthorizationCodes:
    def __init__(self, store: Store, lifetime: int, clock: Clock) -> None:
        self._store = store
        self.lifetime = lifetime
        self._clock = clock

    async def issue(self, grant: CodeGrant) -> str:
        code = secrets.token_urlsafe(32)
        stamped = replace(grant, issued_at=self._clock.now())
        await self._store.put(_CODE + digest(code), json.dumps(asdict(stamped)), self.lifetime)
        return code

    async def peek(self, code: str) -> CodeGrant | None:
        value = await self._store.get(_CODE + digest(code))
        return _decode(value) if value is not None else None

    async def claim(self, code: str, grant: CodeGrant, issued: IssuedFromCode, ttl: float) -> bool:
        """True for the one redemption that wins the code; the code is then gone."""
        record = {"grant": asdict(grant), "issued": asdict(issued)}
        if not await self._store.add(_USED + digest(code), json.dumps(record), ttl):
            return False
        await self._store.delete(_CODE + digest(code))
        return True

    async def used(self, code: str) -> tuple[CodeGrant, IssuedFromCode] | None:
        value = await self._store.get(_USED + digest(code))
        if value is None:
            return None
        record = json.loads(value)
        return _decode(json.dumps(record["grant"])), IssuedFromCode(**record["issued"])
