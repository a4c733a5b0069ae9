"""The gateway's ES256 signing keys: kept in the store, rotated without breaking live tokens.

A key's life, derived from two instants only (``activates_at`` of itself and of its successor):

    next      published in the JWKS, signs nothing yet (``now < activates_at``)
    active    the newest key whose ``activates_at`` has passed: it signs
    retiring  a newer key signs; still published until every token it signed has expired
    expired   no longer published; pruned at the next rotation

``kid`` is the RFC 7638 thumbprint of the public key. Private keys live only in the store, sealed
under the key-encryption key (:mod:`gateway.key_encryption`; the record's collection and kid are the
sealed data's context), and are opened once per snapshot, never per signature. A key written in the
clear by an older version is sealed the first time it is read.

Each :class:`KeyManager` keeps the keys of one purpose in a collection of its own
(:data:`COLLECTIONS`): the gateway's own tokens and downstream tokens are never signed by the same
key (:mod:`gateway.signing_keys`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from jwt.algorithms import ECAlgorithm

from gateway.clock import Clock
from gateway.key_encryption import KeyEncryptionError, KeyProtector
from gateway.store import Store, StoreUnavailable

KeyPurpose = Literal["gateway", "downstream"]
"""``gateway``: tokens this gateway accepts (audience its MCP endpoint or issuer); ``downstream``:
tokens for upstream servers and other resources."""
PURPOSES: tuple[KeyPurpose, ...] = ("gateway", "downstream")
COLLECTIONS: Mapping[KeyPurpose, str] = {"gateway": "signing_keys", "downstream": "downstream_signing_keys"}
ALGORITHM = "ES256"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    purpose: KeyPurpose
    created_at: float
    activates_at: float
    retires_at: float | None
    state: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "purpose": self.purpose,
            "alg": ALGORITHM,
            "state": self.state,
            "created_at": int(self.created_at),
            "activates_at": int(self.activates_at),
            "retires_at": None if self.retires_at is None else int(self.retires_at),
        }


@dataclass(frozen=True)
class _StoredKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    created_at: float
    activates_at: float


@dataclass(frozen=True)
class KeySet:
    """An immutable snapshot: the key that signs now, and every key a verifier may meet."""

    signing_kid: str
    signing_key: ec.EllipticCurvePrivateKey
    verification_keys: Mapping[str, ec.EllipticCurvePublicKey]
    jwks: Mapping[str, Any]


def _public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key, as_dict=True)
    return {name: jwk[name] for name in ("kty", "crv", "x", "y")}


def thumbprint(public_jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url)."""
    return str(ECKey.import_key(dict(public_jwk)).thumbprint())


class KeyManager:
    """Reads and changes the signing keys of one purpose in the store (the server and the CLI)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        publish_lead: float,
        retire_after: float,
        *,
        protector: KeyProtector,
        purpose: KeyPurpose = "gateway",
    ) -> None:
        self._store = store
        self._clock = clock
        self._publish_lead = publish_lead
        self._retire_after = retire_after
        self._protector = protector
        self.purpose: KeyPurpose = purpose
        self._collection = COLLECTIONS[purpose]

    async def _load(self) -> list[_StoredKey]:
        records = await self._store.list_records(self._collection)
        keys = [await self._decode(kid, value) for kid, value in records.items()]
        return sorted(keys, key=lambda k: (k.activates_at, k.created_at))

    async def _create(self, activates_at: float) -> _StoredKey:
        private_key = ec.generate_private_key(ec.SECP256R1())
        kid = thumbprint(_public_jwk(private_key.public_key()))
        stored = _StoredKey(kid, private_key, self._clock.now(), activates_at)
        await self._store.put_record(self._collection, kid, await self._encode(stored))
        return stored

    def _context(self, kid: str) -> str:
        return f"{self._collection}/{kid}"

    async def _encode(self, key: _StoredKey) -> str:
        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        sealed = await self._protector.seal(pem, self._context(key.kid))
        return json.dumps(
            {"sealed_private_key": sealed, "created_at": key.created_at, "activates_at": key.activates_at}
        )

    async def _decode(self, kid: str, value: str) -> _StoredKey:
        data = json.loads(value)
        legacy = "sealed_private_key" not in data
        pem = (
            data["private_pem"].encode()
            if legacy
            else await self._protector.unseal(data["sealed_private_key"], self._context(kid))
        )
        private_key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"signing key {kid} is not an EC key")
        stored = _StoredKey(kid, private_key, float(data["created_at"]), float(data["activates_at"]))
        if legacy:  # written in the clear by an older version: sealed now, in place
            await self._store.put_record(self._collection, kid, await self._encode(stored))
        return stored

    async def ensure_key(self) -> None:
        """On first start there is no key: create one that signs at once."""
        if not await self._load():
            await self._create(activates_at=self._clock.now())

    async def rotate(self) -> KeyInfo:
        """Add a key that is published now and signs after ``publish_lead``; prune expired ones."""
        now = self._clock.now()
        existing = await self._load()
        for info in self._describe(existing, now):
            if info.state == "expired":
                await self._store.delete_record(self._collection, info.kid)
        latest = max((k.activates_at for k in existing), default=now)
        created = await self._create(activates_at=max(now + self._publish_lead, latest + 1))
        return next(i for i in self._describe([*existing, created], now) if i.kid == created.kid)

    async def list_keys(self) -> list[KeyInfo]:
        return self._describe(await self._load(), self._clock.now())

    async def snapshot(self) -> KeySet:
        keys = await self._load()
        if not keys:
            await self.ensure_key()
            keys = await self._load()
        now = self._clock.now()  # after a first key was made: it signs from the instant it was made
        infos = {info.kid: info for info in self._describe(keys, now)}
        published = [k for k in keys if infos[k.kid].state != "expired"]
        signing = [k for k in keys if infos[k.kid].state == "active"]
        if not signing:
            raise StoreUnavailable("no active signing key in the store")
        public = {k.kid: k.private_key.public_key() for k in published}
        jwks = {
            "keys": [
                {**_public_jwk(pub), "kid": kid, "use": "sig", "alg": ALGORITHM}
                for kid, pub in public.items()
            ]
        }
        return KeySet(signing[-1].kid, signing[-1].private_key, public, jwks)

    def _describe(self, keys: list[_StoredKey], now: float) -> list[KeyInfo]:
        started = [k for k in keys if k.activates_at <= now]
        active_kid = started[-1].kid if started else None
        infos = []
        for index, key in enumerate(keys):
            successor = keys[index + 1].activates_at if index + 1 < len(keys) else None
            retires_at = successor if successor is not None and successor <= now else None
            if key.activates_at > now:
                state = "next"
            elif key.kid == active_kid:
                state = "active"
            elif retires_at is not None and retires_at + self._retire_after > now:
                state = "retiring"
            else:
                state = "expired"
            infos.append(KeyInfo(key.kid, self.purpose, key.created_at, key.activates_at, retires_at, state))
        return infos


class KeyRing:
    """The server's cached view of the keys, refreshed from the store at a fixed interval.

    Signing never waits on the store: when a refresh fails (the store is down, or a key does not
    open under this gateway's KEK) the previous snapshot keeps serving; with none yet, the answer is
    :class:`StoreUnavailable` (503), never an error page.
    """

    def __init__(self, manager: KeyManager, clock: Clock, refresh_interval: float) -> None:
        self._manager = manager
        self._clock = clock
        self._refresh_interval = refresh_interval
        self._current: KeySet | None = None
        self._loaded_at = 0.0

    async def current(self) -> KeySet:
        now = self._clock.now()
        if self._current is None or now - self._loaded_at >= self._refresh_interval:
            try:
                self._current = await self._manager.snapshot()
                self._loaded_at = now
            except (StoreUnavailable, KeyEncryptionError) as exc:
                if isinstance(exc, KeyEncryptionError):
                    logger.error("the signing keys cannot be opened: %s", exc)
                if self._current is None:
                    raise StoreUnavailable("the signing keys cannot be read") from exc
                self._loaded_at = now - self._refresh_interval + 1.0  # retry in a second
        return self._current
