"""Signed checkpoints: the gateway's own key vouching that event ``seq`` of the trail had ``hash``.

A checkpoint is a compact JWS, ES256, signed with the key that signs the gateway's own tokens
(the ``gateway`` key set, never the ``downstream`` one)::

    header  {"alg": "ES256", "typ": "audit-checkpoint+jwt", "kid": <kid>}
    claims  {"iss": <issuer>, "n": <checkpoint number>, "seq": <event>, "hash": <its hash>,
             "iat": <seconds>}

Its ``typ`` is not ``at+jwt`` and it has no ``aud``, so no verifier of the gateway takes it for an
access token. As the chain binds every event to the ones before it, one valid checkpoint vouches for
the whole trail up to its event; numbers without gaps show when a checkpoint was removed.

The :class:`Checkpointer` signs one when :data:`every_events` events or ``every_seconds`` seconds
have passed since the last (whichever comes first), and only over events it has checked itself:
it recomputes the links from the last checkpoint on and signs no further than the first broken
one. Before it first signs with a key, it records that key's public JWK in the trail
(``audit_signing_key``), so a checkpoint stays verifiable once its key is no longer published.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from gateway.audit.chain import GENESIS
from gateway.audit.events import EventMaker
from gateway.audit.store import AuditFilter, AuditStore, ChainHead, Checkpoint
from gateway.clock import Clock
from gateway.jwt_hygiene import MalformedJWT, inspect_jwt, verify_signature
from gateway.keys import ALGORITHM, KeySet

CHECKPOINT_TYP = "audit-checkpoint+jwt"
KEY_EVENT = "audit_signing_key"
_ES256 = ECAlgorithm(ECAlgorithm.SHA256)
_PAGE = 1000

logger = logging.getLogger("mcp_gateway")


class CurrentKeys(Protocol):
    """The gateway key set that signs now (:class:`gateway.keys.KeyRing` of the ``gateway`` purpose)."""

    async def current(self) -> KeySet: ...


class CheckpointRefused(ValueError):
    """A checkpoint that does not verify; the message says why."""


@dataclass(frozen=True)
class CheckpointClaims:
    kid: str
    number: int
    seq: int
    hash: str


def sign_checkpoint(keys: KeySet, issuer: str, number: int, head: ChainHead, at: float) -> str:
    claims = {"iss": issuer, "n": number, "seq": head.seq, "hash": head.hash, "iat": int(at)}
    headers = {"kid": keys.signing_kid, "typ": CHECKPOINT_TYP}
    return jwt.encode(claims, keys.signing_key, algorithm=ALGORITHM, headers=headers)


def read_checkpoint(jws: str, keys: Mapping[str, ec.EllipticCurvePublicKey], issuer: str) -> CheckpointClaims:
    """The claims of a checkpoint whose signature verifies with one of ``keys`` (by ``kid``)."""
    try:
        token = inspect_jwt(jws, 4096)
    except MalformedJWT as exc:
        raise CheckpointRefused(str(exc)) from None
    header, claims = token.header, token.claims
    if header.get("typ") != CHECKPOINT_TYP or header.get("alg") != ALGORITHM:
        raise CheckpointRefused("not an audit checkpoint (typ or alg)")
    kid = str(header.get("kid", ""))
    key = keys.get(kid)
    if key is None:
        raise CheckpointRefused(f"signed by key {kid!r}, which is not one of the gateway's")
    if not verify_signature(token, _ES256, key):
        raise CheckpointRefused(f"its signature does not verify with key {kid!r}")
    if claims.get("iss") != issuer:
        raise CheckpointRefused("issued by another issuer")
    number, seq, digest = claims.get("n"), claims.get("seq"), claims.get("hash")
    if not isinstance(number, int) or not isinstance(seq, int) or not isinstance(digest, str):
        raise CheckpointRefused("its claims are not a checkpoint's")
    return CheckpointClaims(kid, number, seq, digest)


def public_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    key = ECAlgorithm.from_jwk(dict(jwk))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an EC public key")
    return key


def _kid(jws: str) -> str | None:
    """The ``kid`` a stored checkpoint names (unverified: only to notice a new key)."""
    try:
        return str(jwt.get_unverified_header(jws).get("kid"))
    except jwt.PyJWTError:
        return None


class Checkpointer:
    def __init__(
        self,
        store: AuditStore,
        keys: CurrentKeys,
        maker: EventMaker,
        clock: Clock,
        *,
        issuer: str,
        every_events: int = 1000,
        every_seconds: float = 60.0,
    ) -> None:
        self._store = store
        self._keys = keys
        self._maker = maker
        self._clock = clock
        self._issuer = issuer
        self._every_events = every_events
        self._every_seconds = every_seconds
        self._started = clock.now()
        self._recorded: set[str] = set()
        self._broken_at: int | None = None

    async def maybe(self, *, force: bool = False) -> Checkpoint | None:
        """Sign a checkpoint of the newest event when one is due; none when not due or when the
        trail is broken right after the last checkpoint. A new signing key makes one due at once
        (after the record of the key), so what the retired key signed is soon vouched for again."""
        head, last = await self._store.head(), await self._store.last_checkpoint()
        signed = ChainHead(last.seq, last.hash) if last is not None else ChainHead(0, GENESIS)
        keys = await self._keys.current()
        rotated = last is not None and _kid(last.jws) != keys.signing_kid
        now = self._clock.now()
        since = last.at if last is not None else self._started
        unsigned = head.seq - signed.seq
        if not (
            rotated
            or (
                unsigned > 0
                and (force or unsigned >= self._every_events or now - since >= self._every_seconds)
            )
        ):
            return None
        await self._record_key(keys)
        through = await self._checked_through(signed)
        if through.seq <= signed.seq:
            return None
        return await self._store.add_checkpoint(
            through.seq,
            through.hash,
            now,
            lambda number: sign_checkpoint(keys, self._issuer, number, through, now),
        )

    async def _record_key(self, keys: KeySet) -> None:
        kid = keys.signing_kid
        if kid in self._recorded:
            return
        recorded = await self._store.read(0, 10_000, AuditFilter(types=(KEY_EVENT,)))
        if not any(stored.event().fields.get("kid") == kid for stored in recorded):
            jwk = next(key for key in keys.jwks["keys"] if key["kid"] == kid)
            fields = {"kid": kid, "jwk": {name: jwk[name] for name in ("kty", "crv", "x", "y", "kid")}}
            await self._store.append(
                [self._maker.new_event("audit_signing_key", "recorded", fields, via=None, actor=None)]
            )
        self._recorded.add(kid)

    async def _checked_through(self, signed: ChainHead) -> ChainHead:
        """The last event after ``signed`` up to which every link holds."""
        good = signed
        while page := await self._store.read(good.seq, _PAGE):
            for stored in page:
                if stored.seq != good.seq + 1 or stored.prev_hash != good.hash or not stored.intact():
                    if self._broken_at != stored.seq:
                        self._broken_at = stored.seq
                        logger.error(
                            "the audit trail is broken at event %d: no checkpoint signs past it "
                            "(run mcp-gateway audit verify)",
                            stored.seq,
                        )
                    return good
                good = ChainHead(stored.seq, stored.hash)
        return good
