"""The gateway's two sets of signing keys, and which one signs a given token.

Tokens the gateway itself accepts (audience its MCP endpoint, its issuer or its admin API: agents'
access tokens, subject and actor tokens of an exchange, admin tokens) are signed by the
``gateway`` keys; every other token (downstream tokens for upstream servers, tokens for other
resources) by the ``downstream`` keys.
The gateway's own verifier trusts only the ``gateway`` keys, so a downstream key that leaks (or an
upstream that learns to sign with one) cannot mint a token the gateway accepts. Introspection
answers for both, and the JWKS publishes both, since resource servers verify downstream tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.clock import Clock
from gateway.key_encryption import KeyProtector
from gateway.keys import PURPOSES, KeyManager, KeyPurpose, KeyRing, KeySet
from gateway.store import Store


@dataclass(frozen=True)
class SigningKeys:
    managers: Mapping[KeyPurpose, KeyManager]
    rings: Mapping[KeyPurpose, KeyRing]
    own_audiences: frozenset[str]
    """The audiences that make a token one the gateway accepts."""

    def purpose_for(self, audience: str | Iterable[str]) -> KeyPurpose:
        audiences = {audience} if isinstance(audience, str) else set(audience)
        return "gateway" if audiences & self.own_audiences else "downstream"

    async def signing_set(self, audience: str | Iterable[str]) -> KeySet:
        """The keys that sign a token for ``audience``."""
        return await self.rings[self.purpose_for(audience)].current()

    async def jwks(self) -> dict[str, Any]:
        """Every published key of both purposes."""
        sets = [await self.rings[purpose].current() for purpose in PURPOSES]
        return {"keys": [key for keys in sets for key in keys.jwks["keys"]]}

    async def ensure_keys(self) -> None:
        """On first start there is no key of a purpose: create one that signs at once."""
        for manager in self.managers.values():
            await manager.ensure_key()


def signing_keys(
    store: Store,
    clock: Clock,
    protector: KeyProtector,
    *,
    own_audiences: Iterable[str],
    publish_lead: float,
    retire_after: float,
    refresh_interval: float,
) -> SigningKeys:
    """Both key sets on one store, sealed by one protector, each behind its cached ring."""
    managers = {
        purpose: KeyManager(store, clock, publish_lead, retire_after, protector=protector, purpose=purpose)
        for purpose in PURPOSES
    }
    rings = {
        purpose: KeyRing(manager, clock, refresh_interval=refresh_interval)
        for purpose, manager in managers.items()
    }
    return SigningKeys(managers, rings, frozenset(own_audiences))
