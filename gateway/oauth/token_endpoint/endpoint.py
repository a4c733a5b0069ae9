"""``POST /token``: read the form, check the grant type, authenticate the client, run the grant.

Every refusal is one ``token_refused`` event (AU-4), but that of a grant that records its own
(:attr:`~gateway.oauth.token_endpoint.grants.Grant.records_refusals`: token exchange records
``token_exchange`` refused)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.audit import AuditLog
from gateway.errors import NO_STORE, OAuthError, UnauthorizedClient, UnsupportedGrantType
from gateway.oauth.forms import read_form
from gateway.oauth.token_endpoint.client_auth import ClientAuthenticator
from gateway.oauth.token_endpoint.grants import Grant


class TokenEndpoint:
    def __init__(
        self,
        authenticator: ClientAuthenticator,
        grants: Iterable[Grant],
        max_body_bytes: int,
        audit: AuditLog,
    ) -> None:
        self._authenticator = authenticator
        self._grants = {grant.grant_type: grant for grant in grants}
        self._max_body_bytes = max_body_bytes
        self._audit = audit

    @property
    def grant_types(self) -> list[str]:
        return list(self._grants)

    async def handle(self, request: Request) -> Response:
        form = await read_form(request, self._max_body_bytes)
        grant_type, recorded_by_grant = form.get("grant_type"), False
        try:
            grant_type = form.require("grant_type")
            grant = self._grants.get(grant_type)
            if grant is None:
                raise UnsupportedGrantType(f"grant_type {grant_type[:64]!r} is not supported")
            client = await self._authenticator.authenticate(request.headers.get("authorization"), form)
            if grant_type not in client.grant_types:
                raise UnauthorizedClient(f"this client may not use the {grant_type} grant")
            recorded_by_grant = getattr(grant, "records_refusals", False)
            body = await grant(client, form)
        except OAuthError as exc:
            if not recorded_by_grant:  # a grant that records its own refusal is not recorded twice
                self._audit.record(
                    "token_refused",
                    outcome="refused",
                    grant=(grant_type or "")[:64],
                    error=exc.error,
                    reason=exc.description,
                )
            raise
        return JSONResponse(body, headers=NO_STORE)
