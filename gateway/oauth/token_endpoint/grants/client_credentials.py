"""``grant_type=client_credentials`` (RFC 6749 §4.4) for agents that act as themselves."""

from __future__ import annotations

from typing import Any

from gateway.audit import AuditLog
from gateway.oauth.clients.model import Client
from gateway.oauth.forms import Form
from gateway.oauth.token_endpoint.grants import record_issued
from gateway.oauth.tokens.access_tokens import AccessTokenIssuer
from gateway.oauth.tokens.audiences import Targets
from gateway.oauth.tokens.scope_requests import narrow_scopes, parse_scope


class ClientCredentialsGrant:
    grant_type = "client_credentials"

    def __init__(self, issuer: AccessTokenIssuer, targets: Targets, lifetime: int, audit: AuditLog) -> None:
        self._issuer = issuer
        self._targets = targets
        self._lifetime = lifetime
        self._audit = audit

    async def __call__(self, client: Client, form: Form) -> dict[str, Any]:
        audience = self._targets.choose(client, form.all("resource"))
        scopes = narrow_scopes(parse_scope(form.get("scope")), client.scopes)
        issued = await self._issuer.issue(
            subject=client.client_id,
            client_id=client.client_id,
            audience=audience,
            scopes=scopes,
            lifetime=self._lifetime,
        )
        record_issued(self._audit, self.grant_type, client, issued)
        return issued.response()
