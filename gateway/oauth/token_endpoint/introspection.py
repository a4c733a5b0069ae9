"""``POST /introspect`` (RFC 7662) and ``POST /revoke`` (RFC 7009), both for authenticated clients.

Introspection answers exactly ``{"active": false}`` for anything the caller may not learn about:
a token that is malformed, foreign, expired or revoked, and a live token issued to another client
(so introspection is no oracle for scanning other agents' tokens). Resource servers behind the
gateway verify tokens locally against the JWKS.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.audit import AuditLog
from gateway.claims import Claims
from gateway.errors import NO_STORE, OAuthError
from gateway.oauth.clients.model import Client
from gateway.oauth.forms import read_form
from gateway.oauth.token_endpoint.client_auth import ClientAuthenticator
from gateway.oauth.tokens.access_tokens import AccessTokenVerifier, InvalidToken
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.oauth.tokens.refresh_families import RefreshTokens
from gateway.oauth.tokens.revocation import RevocationList

INACTIVE: dict[str, Any] = {"active": False}
_REPORTED_CLAIMS = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti", "act")


class IntrospectionEndpoints:
    def __init__(
        self,
        authenticator: ClientAuthenticator,
        verifier: AccessTokenVerifier,
        revocations: RevocationList,
        refresh_tokens: RefreshTokens,
        marks: NotBeforeMarks,
        max_body_bytes: int,
        audit: AuditLog,
    ) -> None:
        self._marks = marks
        self._authenticator = authenticator
        self._verifier = verifier
        self._revocations = revocations
        self._refresh_tokens = refresh_tokens
        self._max_body_bytes = max_body_bytes
        self._audit = audit

    async def _caller_token_claims(self, request: Request) -> tuple[Client, str, Claims | None]:
        form = await read_form(request, self._max_body_bytes)
        try:
            client = await self._authenticator.authenticate(request.headers.get("authorization"), form)
        except OAuthError as exc:  # AU-4: the caller is refused; what it asked about is not read
            self._audit.record(
                "client_auth_refused", outcome="refused", endpoint=request.url.path, error=exc.error
            )
            raise
        token = form.require("token")
        try:
            return client, token, await self._verifier.verify(token)
        except InvalidToken:
            return client, token, None

    async def introspect(self, request: Request) -> Response:
        client, _, claims = await self._caller_token_claims(request)
        if (
            claims is None
            or claims.client_id != client.client_id
            or await self._revocations.is_revoked(claims.jti)
            or not await self._marks.allows_token(claims)
        ):
            return JSONResponse(INACTIVE, headers=NO_STORE)
        body = {"active": True, "token_type": "Bearer"}
        body.update({name: claims.raw[name] for name in _REPORTED_CLAIMS if name in claims.raw})
        return JSONResponse(body, headers=NO_STORE)

    async def revoke(self, request: Request) -> Response:
        """Access tokens go on the jti deny-list; a refresh token takes its whole family with it."""
        client, token, claims = await self._caller_token_claims(request)
        if claims is not None and claims.client_id == client.client_id:
            await self._revocations.revoke(claims.jti, claims.expires_at)
            self._audit.record("token_revoked", outcome="revoked", client_id=client.client_id, jti=claims.jti)
        elif claims is not None:  # RFC 7009 §2.1: another client's token stays; the answer is 200
            self._audit.record(
                "token_revoked",
                outcome="refused",
                client_id=client.client_id,
                reason="another client's token",
            )
        else:
            owner = await self._refresh_tokens.owner(token)
            if owner is not None and owner[1] == client.client_id:
                await self._refresh_tokens.revoke_family(owner[0])
                self._audit.record("refresh_revoked", outcome="revoked", client_id=client.client_id)
            elif owner is not None:
                self._audit.record(
                    "refresh_revoked",
                    outcome="refused",
                    client_id=client.client_id,
                    reason="another client's token",
                )
        return Response(status_code=200, headers=NO_STORE)
