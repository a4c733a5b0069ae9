"""Refresh tokens (RT-1 … RT-3): one family per authorization, rotated on every use.

A refresh token is ``<family id>.<secret>``; the family record keeps the digest of the one
current token, the digests of the rotated ones, and the access tokens the family produced. The
record is replaced with a compare-and-swap, so of two concurrent uses of one token exactly one
rotates; the other is reuse, and reuse revokes the family with every access token it issued.
Family keys share a ``{family}`` hash tag, so Redis Cluster keeps them on one slot.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field, replace

from gateway.clock import Clock
from gateway.constant_time import same
from gateway.errors import InvalidGrant
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.oauth.tokens.revocation import RevocationList
from gateway.store import Store, digest

_KEEP_PREVIOUS = 32


def _family_key(family: str) -> str:
    return f"refresh:{{{family}}}"


def _revoked_key(family: str) -> str:
    return f"refresh-revoked:{{{family}}}"


def new_family_id() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Family:
    client_id: str
    subject: str
    scopes: tuple[str, ...]
    resource: str
    created_at: float
    current: str
    previous: tuple[str, ...] = ()
    access: tuple[tuple[str, float], ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @staticmethod
    def from_json(value: str) -> Family:
        data = json.loads(value)
        data["scopes"] = tuple(data["scopes"])
        data["previous"] = tuple(data["previous"])
        data["access"] = tuple((jti, exp) for jti, exp in data["access"])
        return Family(**data)


@dataclass(frozen=True)
class Rotation:
    """A refresh that may go ahead: the family as it was, the new token, and how to commit it."""

    family_id: str
    family: Family
    stored: str
    new_token: str


class RefreshTokens:
    def __init__(
        self,
        store: Store,
        revocations: RevocationList,
        clock: Clock,
        idle_lifetime: int,
        absolute_lifetime: int,
        marks: NotBeforeMarks,
    ) -> None:
        self._store = store
        self._revocations = revocations
        self._clock = clock
        self._idle = idle_lifetime
        self._absolute = absolute_lifetime
        self._marks = marks

    def _new_token(self, family_id: str) -> str:
        return f"{family_id}.{secrets.token_urlsafe(32)}"

    async def start_family(
        self,
        *,
        family_id: str,
        client_id: str,
        subject: str,
        scopes: tuple[str, ...],
        resource: str,
        access_jti: str,
        access_exp: float,
    ) -> str:
        """The first refresh token of a family whose id the caller chose with :func:`new_family_id`."""
        token = self._new_token(family_id)
        family = Family(
            client_id,
            subject,
            scopes,
            resource,
            self._clock.now(),
            digest(token),
            access=((access_jti, access_exp),),
        )
        await self._store.put(_family_key(family_id), family.to_json(), self._idle)
        return token

    async def begin_rotation(self, client_id: str, presented: str) -> Rotation:
        """Check a presented refresh token; reuse of a rotated one revokes the whole family (RT-1)."""
        family_id = presented.split(".", 1)[0]
        stored = await self._store.get(_family_key(family_id)) if "." in presented else None
        if stored is None or await self._store.get(_revoked_key(family_id)) is not None:
            raise InvalidGrant("the refresh token is invalid, expired or revoked")
        family = Family.from_json(stored)
        if family.client_id != client_id:
            raise InvalidGrant("the refresh token was issued to another client")
        presented_digest = digest(presented)
        if presented_digest in family.previous:
            await self.revoke_family(family_id)
            raise InvalidGrant("the refresh token was already used; the whole grant is revoked")
        if not same(presented_digest, family.current):
            raise InvalidGrant("the refresh token is invalid, expired or revoked")
        if self._clock.now() > family.created_at + self._absolute:
            raise InvalidGrant("the refresh token has reached its absolute lifetime")
        if not await self._marks.allows(
            at=family.created_at, subject=family.subject, client_id=family.client_id
        ):  # RV-2: its user or client was removed since the grant began
            raise InvalidGrant("the refresh token is invalid, expired or revoked")
        return Rotation(family_id, family, stored, self._new_token(family_id))

    async def commit_rotation(self, rotation: Rotation, access_jti: str, access_exp: float) -> None:
        """Swap in the new token; losing the swap means a concurrent use: that is reuse (RT-1)."""
        now = self._clock.now()
        family = rotation.family
        rotated = replace(
            family,
            current=digest(rotation.new_token),
            previous=(*family.previous, family.current)[-_KEEP_PREVIOUS:],
            access=(*((j, e) for j, e in family.access if e > now), (access_jti, access_exp)),
        )
        ttl = min(self._idle, family.created_at + self._absolute - now)
        if not await self._store.swap(
            _family_key(rotation.family_id), rotation.stored, rotated.to_json(), ttl
        ):
            await self._revocations.revoke(access_jti, access_exp)
            await self.revoke_family(rotation.family_id)
            raise InvalidGrant("the refresh token was used twice at once; the whole grant is revoked")

    async def revoke_family(self, family_id: str) -> None:
        """RT-3: the family and every access token it issued stop working at once."""
        await self._store.put(_revoked_key(family_id), "1", self._absolute)
        stored = await self._store.get(_family_key(family_id))
        if stored is not None:
            for jti, exp in Family.from_json(stored).access:
                await self._revocations.revoke(jti, exp)

    async def owner(self, presented: str) -> tuple[str, str] | None:
        """(family id, client id) of a live refresh token, for revocation (RFC 7009)."""
        family_id = presented.split(".", 1)[0]
        stored = await self._store.get(_family_key(family_id)) if "." in presented else None
        if stored is None:
            return None
        family = Family.from_json(stored)
        presented_digest = digest(presented)
        if presented_digest != family.current and presented_digest not in family.previous:
            return None
        return family_id, family.client_id
