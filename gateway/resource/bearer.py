"""Bearer-token checks for the MCP endpoint, as a plain ASGI middleware (PR-2 … PR-4, PR-7).

Every request is verified (sessions are never authentication, PR-7). A token's verified
:class:`~gateway.claims.Claims` are cached until its ``exp`` (bounded, LRU), because a signature
check costs more than the rest of a proxied call; revocation is still asked of the store on every
request by ``jti``, and whether its user or client was removed since it was issued (from memory,
:mod:`gateway.oauth.tokens.not_before`). The claims reach the endpoint in
``scope["state"]["claims"]``. A refusal is raised as an error of the one family
(:mod:`gateway.errors`); the ``/mcp`` dispatcher renders it.

A token presented and refused (not acceptable, revoked, its user or client removed, or sent in the
query) is one ``bearer_refused`` event (AU-4); a request with no token is the first step of the
protocol's discovery (its 401 names the metadata), and no decision about anyone.
"""

from __future__ import annotations

from collections import OrderedDict

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.audit import AuditLog
from gateway.challenges import ResourceChallenge
from gateway.claims import Claims
from gateway.clock import Clock
from gateway.errors import BearerTokenInQuery, InvalidBearerToken
from gateway.oauth.tokens.access_tokens import AccessTokenVerifier, InvalidToken
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.oauth.tokens.revocation import RevocationList


class VerifiedTokenCache:
    def __init__(self, clock: Clock, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[str, Claims] = OrderedDict()

    def get(self, token: str) -> Claims | None:
        claims = self._entries.get(token)
        if claims is None:
            return None
        if claims.expires_at <= self._clock.now():
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return claims

    def put(self, token: str, claims: Claims) -> None:
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
        marks: NotBeforeMarks,
        resource: str,
        challenge: ResourceChallenge,
        cache: VerifiedTokenCache,
        audit: AuditLog | None = None,
    ) -> None:
        self._app = app
        self._audit = audit
        self._verifier = verifier
        self._revocations = revocations
        self._marks = marks
        self._resource = resource
        self._challenge = challenge
        self._cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["claims"] = await self._claims(scope)
        await self._app(scope, receive, send)

    async def _claims(self, scope: Scope) -> Claims:
        if b"access_token=" in scope.get("query_string", b""):
            self._refused("token_in_query")
            raise BearerTokenInQuery("send the token in the Authorization header", challenge=self._challenge)
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if authorization is None or authorization[:7].lower() != b"bearer ":
            raise InvalidBearerToken(
                "a bearer token is required", token_sent=False, challenge=self._challenge
            )
        token = authorization[7:].strip().decode("latin-1")
        claims = self._cache.get(token)
        if claims is None:
            try:
                claims = await self._verifier.verify(token, audience=self._resource)
            except InvalidToken as exc:
                self._refused(str(exc))
                raise InvalidBearerToken(str(exc), challenge=self._challenge) from None
            self._cache.put(token, claims)
        if await self._revocations.is_revoked(claims.jti):
            self._refused("revoked", claims)
            raise InvalidBearerToken("the token has been revoked", challenge=self._challenge)
        if not await self._marks.allows_token(claims):  # read from memory (RV-2)
            self._refused("user_or_client_removed", claims)
            raise InvalidBearerToken("the token's user or client was removed", challenge=self._challenge)
        return claims

    def _refused(self, reason: str, claims: Claims | None = None) -> None:
        if self._audit is None:
            return
        who = {"client_id": claims.client_id, "sub": claims.subject, "jti": claims.jti} if claims else {}
        self._audit.record("bearer_refused", outcome="refused", resource=self._resource, reason=reason, **who)
