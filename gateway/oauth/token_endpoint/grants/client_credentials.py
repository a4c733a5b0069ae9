"""``grant_type=client_credentials`` (RFC 6749 §4.4) for agents that act as themselves: the scopes
asked for, narrowed to the client's standing scopes and active grants (AP-1)."""

from __future__ import annotations

from typing import Any

from gateway.approvals.entitlements import Entitlements
from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.oauth.clients.model import Client
from gateway.oauth.forms import Form
from gateway.oauth.token_endpoint.grants import record_issued
from gateway.oauth.tokens.access_tokens import AccessTokenIssuer
from gateway.oauth.tokens.audiences import Targets
from gateway.oauth.tokens.scope_requests import parse_scope


class ClientCredentialsGrant:
    grant_type = "client_credentials"

    def __init__(
        self,
        issuer: AccessTokenIssuer,
        targets: Targets,
        entitlements: Entitlements,
        lifetime: int,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self._issuer = issuer
        self._entitlements = entitlements
        self._clock = clock
        self._targets = targets
        self._lifetime = lifetime
        self._audit = audit

    async def __call__(self, client: Client, form: Form) -> dict[str, Any]:
        audience = self._targets.choose(client, form.all("resource"))
        entitled = await self._entitlements.entitle(
            client.client_id, client.scopes, parse_scope(form.get("scope")), audience
        )
        issued = await self._issuer.issue(
            subject=client.client_id,
            client_id=client.client_id,
            audience=audience,
            scopes=entitled.scopes,
            lifetime=entitled.bound(self._lifetime, self._clock.now()),
            extra=entitled.claims(),
        )
        await record_issued(self._audit, self.grant_type, client, issued)
        return issued.response()
