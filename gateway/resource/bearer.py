"""Bearer-token checks for the MCP endpoint, as a plain ASGI middleware (SPEC-NOTES PR-2 … PR-4).

Every request is verified (sessions are never authentication, PR-7). A token's verified claims
are cached until its ``exp`` (bounded, LRU), because a signature check costs more than the rest
of a proxied call; revocation is still asked of the store on every request by ``jti``. The
claims reach the endpoint in ``scope["state"]["claims"]``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.clock import Clock
from gateway.errors import bearer_challenge
from gateway.oauth.tokens.access_tokens import AccessTokenVerifier, InvalidToken
from gateway.oauth.tokens.revocation import RevocationList


class VerifiedTokenCache:
    def __init__(self, clock: Clock, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def get(self, token: str) -> dict[str, Any] | None:
        claims = self._entries.get(token)
        if claims is None:
            return None
        if claims["exp"] <= self._clock.now():
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return claims

    def put(self, token: str, claims: dict[str, Any]) -> None:
        self._entries[token] = claims
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class BearerAuth:
    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: AccessTokenVerifier,
        revocations: RevocationList,
        resource: str,
        resource_metadata_url: str,
        scopes: tuple[str, ...],
        cache: VerifiedTokenCache,
    ) -> None:
        self._app = app
        self._verifier = verifier
        self._revocations = revocations
        self._resource = resource
        self._metadata_url = resource_metadata_url
        self._scope = " ".join(scopes)
        self._cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if b"access_token=" in scope.get("query_string", b""):
            await self._refuse(
                scope, receive, send, 400, "invalid_request", "send the token in the Authorization header"
            )
            return
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if authorization is None or authorization[:7].lower() != b"bearer ":
            await self._refuse(scope, receive, send, 401, None, "")
            return
        token = authorization[7:].strip().decode("latin-1")
        claims = self._cache.get(token)
        if claims is None:
            try:
                claims = await self._verifier.verify(token, audience=self._resource)
            except InvalidToken as exc:
                await self._refuse(scope, receive, send, 401, "invalid_token", str(exc))
                return
            self._cache.put(token, claims)
        if await self._revocations.is_revoked(claims["jti"]):
            await self._refuse(scope, receive, send, 401, "invalid_token", "the token has been revoked")
            return
        scope.setdefault("state", {})["claims"] = claims
        await self._app(scope, receive, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, error: str | None, description: str
    ) -> None:
        challenge = bearer_challenge(
            resource_metadata=self._metadata_url, scope=self._scope, error=error, description=description
        )
        body = {
            "error": error or "unauthorized",
            "error_description": description or "a bearer token is required",
        }
        response = JSONResponse(body, status_code=status, headers={"WWW-Authenticate": challenge})
        await response(scope, receive, send)
