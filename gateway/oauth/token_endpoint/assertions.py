"""Client authentication by signed JWT assertion: RFC 7523 §2.2 with the RFC 7523bis rules.

The checks, in order (CA-1 … CA-6):

1. size and shape before any parsing work; duplicate members refused; no ``crit``;
2. ``alg`` on the allow-list (never ``none``, never an HMAC); ``typ`` absent, ``JWT`` or
   ``client-authentication+jwt`` (an access token can never pass for an assertion);
3. ``iss`` = ``sub`` = the client id (= the body's ``client_id`` when one is sent);
4. the signature, with keys only from the client's registered ``jwks`` / ``jwks_uri``: the
   ``jwk``/``jku``/``x5u``/``x5c`` headers are never read, ``kid`` is only a lookup key, and
   each key verifies exactly one algorithm;
5. ``aud`` is the issuer as one string; ``exp`` required and close; ``nbf``/``iat`` not ahead;
6. only then the ``jti`` is remembered, single-use per client, until the assertion expires.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

import jwt

from gateway.clock import Clock
from gateway.errors import InvalidClient
from gateway.fetching.fetcher import DocumentFetcher, FetchError
from gateway.jwt_hygiene import MalformedJWT, UnverifiedJWT, inspect_jwt, verify_signature
from gateway.oauth.clients.model import ASSERTION_ALGORITHMS, Client
from gateway.oauth.clients.registry import ClientRegistry
from gateway.store import Store

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_BYTES = 8 * 1024
ACCEPTED_TYP = frozenset({"jwt", "client-authentication+jwt", "application/client-authentication+jwt"})


class ClientKeys:
    """Resolves a client's registered public keys, each parsed once and bound to one algorithm."""

    def __init__(self, fetcher: DocumentFetcher, max_entries: int = 4096) -> None:
        self._fetcher = fetcher
        self._parsed: OrderedDict[str, list[jwt.PyJWK]] = OrderedDict()
        self._max_entries = max_entries

    async def keys_for(self, client: Client) -> list[jwt.PyJWK]:
        if client.jwks_uri is not None:
            try:
                jwks: Any = await self._fetcher.fetch_json(client.jwks_uri)
            except FetchError as exc:
                raise InvalidClient(f"the client's jwks_uri could not be used: {exc}") from None
        else:
            jwks = client.jwks
        return self._parse(jwks)

    def _parse(self, jwks: Any) -> list[jwt.PyJWK]:
        fingerprint = json.dumps(jwks, sort_keys=True)
        cached = self._parsed.get(fingerprint)
        if cached is not None:
            self._parsed.move_to_end(fingerprint)
            return cached
        keys = []
        for entry in (jwks or {}).get("keys", []) if isinstance(jwks, dict) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWKError:
                continue
            if key.algorithm_name in ASSERTION_ALGORITHMS and not getattr(key.key, "private_numbers", None):
                keys.append(key)
        self._parsed[fingerprint] = keys
        if len(self._parsed) > self._max_entries:
            self._parsed.popitem(last=False)
        return keys


class AssertionVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        token_endpoint: str,
        accept_token_endpoint_audience: bool,
        max_lifetime: int,
        leeway: int,
        clients: ClientRegistry,
        keys: ClientKeys,
        store: Store,
        clock: Clock,
    ) -> None:
        self._audiences = {issuer}
        if issuer.count("/") == 2:  # a root issuer: scheme://authority names the same server with "/"
            self._audiences.add(issuer + "/")
        if accept_token_endpoint_audience:
            self._audiences.add(token_endpoint)
        self._max_lifetime = max_lifetime
        self._leeway = leeway
        self._clients = clients
        self._keys = keys
        self._store = store
        self._clock = clock

    async def authenticate(self, assertion: str, client_id: str | None) -> Client:
        try:
            unverified = inspect_jwt(assertion, MAX_ASSERTION_BYTES)
        except MalformedJWT as exc:
            raise InvalidClient(f"client assertion is malformed: {exc}") from None
        header, claims = unverified.header, unverified.claims
        alg = header["alg"]
        if alg not in ASSERTION_ALGORITHMS:
            raise InvalidClient("client assertion alg is not accepted")
        if "typ" in header and str(header["typ"]).lower() not in ACCEPTED_TYP:
            raise InvalidClient("client assertion typ is not accepted")
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or claims.get("sub") != issuer:
            raise InvalidClient("client assertion iss and sub must both be the client id")
        if client_id is not None and client_id != issuer:
            raise InvalidClient("client_id does not match the client assertion")
        client = await self._clients.get(issuer)
        if client is None or client.auth_method != "private_key_jwt":
            raise InvalidClient("unknown client or client not registered for private_key_jwt")
        verified = await self._verify_signature(unverified, client)
        now = self._clock.now()
        self._check_times(verified, now)
        await self._remember_jti(client.client_id, verified, now)
        return client

    async def _verify_signature(self, token: UnverifiedJWT, client: Client) -> dict[str, Any]:
        kid = token.header.get("kid")
        for key in await self._keys.keys_for(client):
            if key.algorithm_name != token.header["alg"] or (kid is not None and key.key_id != kid):
                continue
            if verify_signature(token, key.Algorithm, key.key):
                return self._required(token.claims)
        raise InvalidClient("client assertion signature does not verify with the client's registered keys")

    @staticmethod
    def _required(claims: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in ("iss", "sub", "aud", "exp", "jti") if name not in claims]
        if missing:
            raise InvalidClient(f"client assertion lacks the {missing[0]} claim")
        return claims

    def _check_times(self, claims: dict[str, Any], now: float) -> None:
        if not isinstance(claims["aud"], str) or claims["aud"] not in self._audiences:
            raise InvalidClient("client assertion aud must be this authorization server's issuer")
        exp, nbf, iat = claims["exp"], claims.get("nbf"), claims.get("iat")
        for name, value in (("exp", exp), ("nbf", nbf), ("iat", iat)):
            if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
                raise InvalidClient(f"client assertion {name} must be a number")
        if exp <= now - self._leeway:
            raise InvalidClient("client assertion has expired")
        if exp > now + self._max_lifetime + self._leeway:
            raise InvalidClient(f"client assertion lives longer than {self._max_lifetime} seconds")
        if nbf is not None and nbf > now + self._leeway:
            raise InvalidClient("client assertion is not valid yet (nbf)")
        if iat is not None and iat > now + self._leeway:
            raise InvalidClient("client assertion was issued in the future (iat)")
        if iat is not None and iat < now - self._max_lifetime - self._leeway:
            raise InvalidClient("client assertion is stale (iat)")

    async def _remember_jti(self, client_id: str, claims: dict[str, Any], now: float) -> None:
        jti = claims["jti"]
        if not isinstance(jti, str) or not 0 < len(jti) <= 255:
            raise InvalidClient("client assertion jti must be a non-empty string")
        digest = hashlib.sha256(f"{client_id}\x00{jti}".encode()).hexdigest()
        ttl = max(float(claims["exp"]) - now, 0.0) + self._leeway
        if not await self._store.add("jti:" + digest, "1", ttl):
            raise InvalidClient("client assertion jti has been used before")
