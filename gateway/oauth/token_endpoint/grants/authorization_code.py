"""``grant_type=authorization_code`` with PKCE (CO-2, CO-3, CO-6)."""

from __future__ import annotations

from typing import Any

from gateway.approvals.entitlements import Entitlements
from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.errors import InvalidGrant, InvalidTarget
from gateway.oauth.authorize.pkce import verifier_matches
from gateway.oauth.clients.model import Client
from gateway.oauth.forms import Form
from gateway.oauth.token_endpoint.grants import record_issued
from gateway.oauth.tokens.access_tokens import AccessTokenIssuer, new_jti
from gateway.oauth.tokens.audiences import canonical_resource
from gateway.oauth.tokens.authorization_codes import AuthorizationCodes, IssuedFromCode
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.oauth.tokens.refresh_families import RefreshTokens, new_family_id
from gateway.oauth.tokens.revocation import RevocationList

_REFUSED = "the authorization code is invalid, expired, already used, or was issued to another client"


class AuthorizationCodeGrant:
    grant_type = "authorization_code"

    def __init__(
        self,
        codes: AuthorizationCodes,
        issuer: AccessTokenIssuer,
        refresh_tokens: RefreshTokens,
        revocations: RevocationList,
        lifetime: int,
        audit: AuditLog,
        clock: Clock,
        marks: NotBeforeMarks,
        entitlements: Entitlements,
    ) -> None:
        self._entitlements = entitlements
        self._clock = clock
        self._marks = marks
        self._codes = codes
        self._issuer = issuer
        self._refresh = refresh_tokens
        self._revocations = revocations
        self._lifetime = lifetime
        self._audit = audit

    async def __call__(self, client: Client, form: Form) -> dict[str, Any]:
        code = form.require("code")
        redirect_uri = form.get("redirect_uri")
        verifier = form.get("code_verifier")
        grant = await self._codes.peek(code)
        if grant is None:
            await self._revoke_on_valid_replay(client, code, redirect_uri, verifier)
            raise InvalidGrant(_REFUSED)
        if grant.client_id != client.client_id or grant.redirect_uri != redirect_uri:
            raise InvalidGrant(_REFUSED)
        if not await self._marks.allows(
            at=grant.issued_at, subject=grant.subject, client_id=client.client_id
        ):
            raise InvalidGrant(_REFUSED)  # RV-2: its user or client was removed since
        if not verifier or not verifier_matches(verifier, grant.code_challenge):
            raise InvalidGrant("code_verifier does not match the code_challenge")
        resources = form.all("resource")
        if resources and (len(resources) > 1 or canonical_resource(resources[0]) != grant.resource):
            raise InvalidTarget("the resource must be the one the code was issued for")
        entitled = await self._entitlements.entitle(  # AP-1: a grant may have ended since consent
            client.client_id, client.scopes, grant.scopes, grant.resource
        )
        family = new_family_id() if "refresh_token" in client.grant_types else None
        about_to_issue = IssuedFromCode(new_jti(), self._clock.now() + self._lifetime + 1, family)
        if not await self._codes.claim(code, grant, about_to_issue, ttl=self._lifetime + 600):
            await self._revoke_on_valid_replay(client, code, redirect_uri, verifier)
            raise InvalidGrant(_REFUSED)
        issued = await self._issuer.issue(
            subject=grant.subject,
            client_id=client.client_id,
            audience=grant.resource,
            scopes=entitled.scopes,
            lifetime=entitled.bound(self._lifetime, self._clock.now()),
            jti=about_to_issue.jti,
            extra=entitled.claims(),
        )
        body = issued.response()
        if family is not None:
            body["refresh_token"] = await self._refresh.start_family(
                family_id=family,
                client_id=client.client_id,
                subject=grant.subject,
                scopes=entitled.scopes,
                resource=grant.resource,
                access_jti=str(issued.claims["jti"]),
                access_exp=float(issued.claims["exp"]),
            )
        await record_issued(self._audit, self.grant_type, client, issued)
        return body

    async def _revoke_on_valid_replay(
        self, client: Client, code: str, redirect_uri: str | None, verifier: str | None
    ) -> None:
        """CO-3: a second *valid* redemption means the code leaked: revoke what the first one got."""
        used = await self._codes.used(code)
        if used is None:
            return
        grant, access = used
        if (
            grant.client_id == client.client_id
            and grant.redirect_uri == redirect_uri
            and verifier
            and verifier_matches(verifier, grant.code_challenge)
        ):
            await self._revocations.revoke(access.jti, access.exp)
            if access.family:
                await self._refresh.revoke_family(access.family)
            self._audit.record("code_replayed", outcome="revoked", client_id=client.client_id, jti=access.jti)
