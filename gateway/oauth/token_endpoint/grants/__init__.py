"""Token endpoint grants. Each grant is a callable taking the authenticated client and the form."""

from __future__ import annotations

from typing import Any, Protocol

from gateway.audit import AuditLog
from gateway.oauth.clients.model import Client
from gateway.oauth.forms import Form
from gateway.oauth.tokens.access_tokens import IssuedToken


class Grant(Protocol):
    grant_type: str
    """A grant may say ``records_refusals = True``: it records its own refusals (AU-4), and the
    token endpoint then records none for it."""

    async def __call__(self, client: Client, form: Form) -> dict[str, Any]:
        """The JSON body of a successful token response."""
        ...


async def record_issued(audit: AuditLog, grant_type: str, client: Client, issued: IssuedToken) -> None:
    """The audit event of a token a grant issued: who, for whom, where, what, which ``jti``; committed
    to the trail before the grant answers (AU-3), so the token never leaves without its record."""
    claims = issued.claims
    await audit.durable(
        "token_issued",
        outcome="granted",
        grant=grant_type,
        client_id=client.client_id,
        sub=claims["sub"],
        audience=claims["aud"],
        scope=claims["scope"],
        jti=claims["jti"],
    )
