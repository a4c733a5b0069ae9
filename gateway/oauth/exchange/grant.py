"""``grant_type=urn:ietf:params:oauth:grant-type:token-exchange`` (RFC 8693; TE-1 … TE-7).

The HTTP side: read and check the request, verify the subject (and actor) token fully, decide
whether this client may exchange it (TE-5), then hand over to :class:`TokenExchanger`. Every
exchange, granted or refused, leaves one audit line: who, on whose behalf, target, scopes.
"""

from __future__ import annotations

from typing import Any

from gateway.approvals.entitlements import Entitlements
from gateway.audit import AuditLog
from gateway.claims import Claims
from gateway.errors import InvalidRequest, InvalidTarget, OAuthError
from gateway.oauth.clients.model import Client
from gateway.oauth.exchange.rules import ACCESS_TOKEN_TYPE, GRANT_TYPE, SUBJECT_TOKEN_TYPES, TokenExchanger
from gateway.oauth.forms import Form
from gateway.oauth.tokens.access_tokens import AccessTokenVerifier, InvalidToken
from gateway.oauth.tokens.audiences import Targets
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.oauth.tokens.revocation import RevocationList
from gateway.oauth.tokens.scope_requests import parse_scope


def may_exchange(client_id: str, subject: Claims) -> bool:
    """TE-5: the subject token's own client, its current actor, or a party named in ``may_act``."""
    if subject.client_id == client_id or subject.actor_chain[:1] == (client_id,):
        return True
    may_act = subject.may_act
    return may_act is not None and client_id in (may_act.get("sub"), may_act.get("client_id"))


class TokenExchangeGrant:
    grant_type = GRANT_TYPE
    records_refusals = True
    """Its refusals are ``token_exchange`` events, not ``token_refused``."""

    def __init__(
        self,
        exchanger: TokenExchanger,
        verifier: AccessTokenVerifier,
        revocations: RevocationList,
        targets: Targets,
        accepted_subject_audiences: frozenset[str],
        audit: AuditLog,
        marks: NotBeforeMarks,
        entitlements: Entitlements,
    ) -> None:
        self._marks = marks
        self._entitlements = entitlements
        self._exchanger = exchanger
        self._verifier = verifier
        self._revocations = revocations
        self._targets = targets
        self._accepted_subject_audiences = accepted_subject_audiences
        self._audit = audit

    async def _verified(self, token: str, kind: str) -> Claims:
        """TE-2: signature, issuer, expiry, revocation, and an audience that is this gateway."""
        try:
            claims = await self._verifier.verify(token)
        except InvalidToken as exc:
            raise InvalidRequest(f"the {kind} token is not acceptable: {exc}") from None
        if not self._accepted_subject_audiences & set(claims.audience):
            raise InvalidRequest(f"the {kind} token was not issued for this gateway")
        if await self._revocations.is_revoked(claims.jti):
            raise InvalidRequest(f"the {kind} token has been revoked")
        if not await self._marks.allows_token(claims):
            raise InvalidRequest(f"the {kind} token's user or client was removed")
        return claims

    async def __call__(self, client: Client, form: Form) -> dict[str, Any]:
        audit: dict[str, Any] = {"client_id": client.client_id, "scope": form.get("scope") or ""}
        try:
            body = await self._exchange(client, form, audit)
        except OAuthError as exc:
            self._audit.record(
                "token_exchange", outcome="refused", error=exc.error, reason=exc.description, **audit
            )
            raise
        await self._audit.durable("token_exchange", outcome="granted", **audit)  # AU-3
        return body

    async def _exchange(self, client: Client, form: Form, audit: dict[str, Any]) -> dict[str, Any]:
        subject_token = form.require("subject_token")
        if form.require("subject_token_type") not in SUBJECT_TOKEN_TYPES:
            raise InvalidRequest("subject_token_type must be an access_token or jwt token type")
        actor_token, actor_type = form.get("actor_token"), form.get("actor_token_type")
        if bool(actor_token) != bool(actor_type):
            raise InvalidRequest("actor_token_type must be sent exactly when actor_token is")
        if actor_type is not None and actor_type not in SUBJECT_TOKEN_TYPES:
            raise InvalidRequest("actor_token_type must be an access_token or jwt token type")
        requested_type = form.get("requested_token_type") or ACCESS_TOKEN_TYPE
        if requested_type not in SUBJECT_TOKEN_TYPES:
            raise InvalidRequest("requested_token_type must be an access_token or jwt token type")
        requested = (*form.all("audience"), *form.all("resource"))
        if not requested:
            raise InvalidRequest("name the target with audience or resource")
        audiences = tuple(dict.fromkeys(self._targets.known(target) for target in requested))
        if len(audiences) > 1:  # one token, one place it is good at
            raise InvalidTarget("ask for one audience per token")
        for audience in audiences:
            self._targets.allowed_for(client, audience)
        audit["audience"] = list(audiences)

        subject = await self._verified(subject_token, "subject")
        audit.update(sub=subject.subject, on_behalf_of=subject.client_id)
        if not may_exchange(client.client_id, subject):
            raise InvalidRequest("this client may not exchange the subject token (no may_act names it)")
        actor: str | None = client.client_id
        actor_expires_at = None
        if actor_token:
            actor_claims = await self._verified(actor_token, "actor")
            if actor_claims.client_id != client.client_id:
                raise InvalidRequest("the actor token was not issued to this client")
            actor, actor_expires_at = actor_claims.subject, actor_claims.expires_at
        elif client.may_impersonate:
            actor = None
        issued = await self._exchanger.exchange(
            subject=subject,
            requester=client.client_id,
            audiences=audiences,
            requested_scopes=parse_scope(form.get("scope")),
            client_scopes=await self._entitlements.held(client.client_id, client.scopes),
            actor=actor,
            actor_expires_at=actor_expires_at,
        )
        audit.update(scope=issued.claims["scope"], jti=issued.claims["jti"], actor=actor)
        return issued.response(issued_token_type=requested_type)
