"""Token exchange (RFC 8693): the one place that turns a verified token into a narrower one.

Used by the public grant (``grants/token_exchange.py``) and, without HTTP, by the gateway when it
forwards a tool call (``gateway/upstream/downstream_tokens.py``). The rules (TE-4,
TE-6, TE-7), all here:

* scope: what is asked for must lie within subject scope ∩ the client's scopes ∩ what the
  targets accept; asking for more is ``invalid_scope``, never silently trimmed into something else;
* ``act``: delegation names the actor and nests the subject's previous ``act`` inside (the
  outermost is the current actor); depth is capped; impersonation (no new ``act``) only where the
  caller's policy allows it;
* lifetime: ``exp`` never after the subject's (nor the actor token's), never over the maximum;
* lineage: the new token is indexed under the subject's ``jti`` so revocation cascades.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.claims import Claims
from gateway.clock import Clock
from gateway.errors import InvalidRequest, InvalidScope
from gateway.oauth.tokens.access_tokens import AccessTokenIssuer, IssuedToken
from gateway.oauth.tokens.audiences import Targets
from gateway.oauth.tokens.revocation import RevocationList
from tools_registry.scopes import covers

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
SUBJECT_TOKEN_TYPES = frozenset({ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE})


@dataclass(frozen=True)
class ExchangePolicy:
    max_lifetime: int = 300
    max_delegation_depth: int = 4


def delegation_depth(act: Any) -> int:
    depth = 0
    while isinstance(act, Mapping):
        depth += 1
        act = act.get("act")
    return depth


class TokenExchanger:
    def __init__(
        self,
        issuer: AccessTokenIssuer,
        targets: Targets,
        revocations: RevocationList,
        clock: Clock,
        policy: ExchangePolicy,
    ) -> None:
        self._issuer = issuer
        self._targets = targets
        self._revocations = revocations
        self._clock = clock
        self._policy = policy

    def granted_scopes(
        self,
        subject: Claims,
        audiences: tuple[str, ...],
        requested: tuple[str, ...],
        client_scopes: Collection[str] | None,
    ) -> tuple[str, ...]:
        """TE-4: requested ⊆ subject ∩ client ∩ target; nothing requested = all of that ceiling.

        "⊆" honours the scope hierarchy of ``tools_registry.scopes``: a held ``weather`` lets the
        narrower ``weather:get_forecast`` be issued, never the other way round.
        """
        held = subject.scopes

        def allowed(scope: str) -> bool:
            return (
                covers(held, scope)
                and (client_scopes is None or covers(client_scopes, scope))
                and all(self._targets.accepts(audience, scope) for audience in audiences)
            )

        candidates = list(held)
        for audience in audiences:
            candidates = [
                narrow for scope in candidates for narrow in self._targets.narrowed(audience, scope)
            ]
        ceiling = tuple(scope for scope in dict.fromkeys(candidates) if allowed(scope))
        if requested:
            wider = [scope for scope in requested if not allowed(scope)]
            if wider:
                raise InvalidScope(
                    f"scope {wider[0]!r} is not held by the subject token, the client or the target"
                )
            return requested
        if not ceiling:
            raise InvalidScope("the subject token holds no scope this client may pass to the target")
        return ceiling

    async def exchange(
        self,
        *,
        subject: Claims,
        requester: str,
        audiences: tuple[str, ...],
        requested_scopes: tuple[str, ...] = (),
        client_scopes: Collection[str] | None = None,
        actor: str | None = None,
        actor_expires_at: float | None = None,
    ) -> IssuedToken:
        """A token for ``audiences`` on behalf of ``subject``; ``actor=None`` means impersonation."""
        scopes = self.granted_scopes(subject, audiences, requested_scopes, client_scopes)
        extra: dict[str, Any] = {}
        if actor is not None:
            act: dict[str, Any] = {"sub": actor}
            if subject.act is not None:
                act["act"] = subject.act
            if delegation_depth(act) > self._policy.max_delegation_depth:
                raise InvalidRequest(
                    f"delegation chains are capped at {self._policy.max_delegation_depth} actors"
                )
            extra["act"] = act
        elif subject.act is not None:
            extra["act"] = subject.act
        if subject.grants:  # AP-2: revoking a grant ends the tokens exchanged from its tokens too
            extra["grants"] = list(subject.grants)
        now = int(self._clock.now())
        expires_at = min(int(subject.expires_at), now + self._policy.max_lifetime)
        if actor_expires_at is not None:
            expires_at = min(expires_at, int(actor_expires_at))
        if expires_at <= now:
            raise InvalidRequest("the subject token expires too soon to exchange")
        issued = await self._issuer.issue(
            subject=subject.subject,
            client_id=requester,
            audience=audiences[0] if len(audiences) == 1 else list(audiences),
            scopes=scopes,
            lifetime=expires_at - now,
            extra=extra,
            not_after=expires_at,
        )
        await self._revocations.record_exchange(subject.jti, str(issued.claims["jti"]), expires_at)
        return issued
