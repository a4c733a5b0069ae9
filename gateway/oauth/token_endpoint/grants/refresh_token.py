"""``grant_type=refresh_token`` (RT-1, RT-2): rotate, never widen, stay with the client, and hold
only what the client's standing scopes and active grants still allow (AP-1)."""

from __future__ import annotations

from typing import Any

from gateway.approvals.entitlements import Entitlements
from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.errors import InvalidScope, InvalidTarget
from gateway.oauth.clients.model import Client
from gateway.oauth.forms import Form
from gateway.oauth.token_endpoint.grants import record_issued
from gateway.oauth.tokens.access_tokens import AccessTokenIssuer
from gateway.oauth.tokens.audiences import canonical_resource
from gateway.oauth.tokens.refresh_families import RefreshTokens
from gateway.oauth.tokens.scope_requests import parse_scope


class RefreshTokenGrant:
    grant_type = "refresh_token"

    def __init__(
        self,
        refresh_tokens: RefreshTokens,
        issuer: AccessTokenIssuer,
        entitlements: Entitlements,
        lifetime: int,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self._refresh = refresh_tokens
        self._entitlements = entitlements
        self._clock = clock
        self._issuer = issuer
        self._lifetime = lifetime
        self._audit = audit

    async def __call__(self, client: Client, form: Form) -> dict[str, Any]:
        rotation = await self._refresh.begin_rotation(client.client_id, form.require("refresh_token"))
        family = rotation.family
        requested = parse_scope(form.get("scope"))
        if any(scope not in family.scopes for scope in requested):
            raise InvalidScope("a refresh cannot add scopes the grant does not hold")
        resources = form.all("resource")
        if resources and (len(resources) > 1 or canonical_resource(resources[0]) != family.resource):
            raise InvalidTarget("a refresh cannot change the resource of the grant")
        entitled = await self._entitlements.entitle(  # AP-1: what the client may still hold
            client.client_id, client.scopes, requested or family.scopes, family.resource
        )
        issued = await self._issuer.issue(
            subject=family.subject,
            client_id=client.client_id,
            audience=family.resource,
            scopes=entitled.scopes,
            lifetime=entitled.bound(self._lifetime, self._clock.now()),
            extra=entitled.claims(),
        )
        await self._refresh.commit_rotation(rotation, str(issued.claims["jti"]), float(issued.claims["exp"]))
        await record_issued(self._audit, self.grant_type, client, issued)
        return issued.response(refresh_token=rotation.new_token)
