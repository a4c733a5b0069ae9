"""A verified access token, typed: what every decision after the signature check reads.

The verifier (:mod:`gateway.oauth.tokens.access_tokens`) builds one :class:`Claims` per token; the
resource side caches it with the token, so the scope string is split once per token, not once per
call. Token exchange, introspection and the ``/mcp`` path all read these fields; ``raw`` keeps every
verified claim for the few places that report them as they are (introspection, tests).

    >>> claims = Claims.from_jwt({"sub": "alice", "client_id": "agent", "scope": "a b", "aud": "x",
    ...                           "jti": "j", "iat": 1, "exp": 2, "act": {"sub": "agent"}})
    >>> claims.scopes, claims.audience, claims.actor_chain, claims.principal
    (('a', 'b'), ('x',), ('agent',), 'alice\\x00agent')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str
    client_id: str
    scopes: tuple[str, ...]
    audience: tuple[str, ...]
    jti: str
    issued_at: float
    expires_at: float
    act: Mapping[str, Any] | None
    """RFC 8693 §4.1: the current actor, with the earlier ones nested inside (``act.act``…)."""
    may_act: Mapping[str, Any] | None
    """RFC 8693 §4.4: who may act for the subject by exchanging this token."""
    raw: Mapping[str, Any]
    grants: tuple[str, ...] = ()
    """The approved grants its scopes rest on (``grants`` claim): revoking one ends the token."""

    @classmethod
    def from_jwt(cls, claims: Mapping[str, Any]) -> Claims:
        """From a token's verified claims (``sub``, ``aud``, ``jti``, ``iat``, ``exp`` present)."""
        audience = claims["aud"]
        act, may_act, grants = claims.get("act"), claims.get("may_act"), claims.get("grants")
        return cls(
            subject=str(claims["sub"]),
            client_id=str(claims.get("client_id", "")),
            scopes=tuple(str(claims.get("scope", "")).split()),
            audience=tuple(str(a) for a in audience) if isinstance(audience, list) else (str(audience),),
            jti=str(claims["jti"]),
            issued_at=float(claims["iat"]),
            expires_at=float(claims["exp"]),
            act=act if isinstance(act, Mapping) else None,
            may_act=may_act if isinstance(may_act, Mapping) else None,
            raw=MappingProxyType(dict(claims)),
            grants=tuple(str(g) for g in grants) if isinstance(grants, list) else (),
        )

    @property
    def principal(self) -> str:
        """Who the token speaks for: its subject and the client acting for it."""
        return f"{self.subject}\x00{self.client_id}"

    @property
    def actor_chain(self) -> tuple[str, ...]:
        """The actors, the current one first."""
        chain: list[str] = []
        act = self.act
        while isinstance(act, Mapping):
            chain.append(str(act.get("sub", "")))
            act = act.get("act")
        return tuple(chain)
