"""Access tokens: JWT per RFC 9068 (``typ: at+jwt``), ES256, short-lived, revocable by ``jti``.

Minting and verifying live together so the two can never disagree on the format.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import ECAlgorithm

from gateway.claims import Claims
from gateway.clock import Clock
from gateway.jwt_hygiene import MalformedJWT, inspect_jwt, verify_signature
from gateway.keys import ALGORITHM, KeyPurpose
from gateway.signing_keys import SigningKeys

ACCESS_TOKEN_TYP = "at+jwt"
_ES256 = ECAlgorithm(ECAlgorithm.SHA256)
MAX_TOKEN_BYTES = 8 * 1024


def new_jti() -> str:
    return secrets.token_urlsafe(18)


class InvalidToken(Exception):
    """A token that must not be honoured; the message is safe to log (it never holds the token)."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: Mapping[str, Any]

    @property
    def expires_in(self) -> int:
        return int(self.claims["exp"]) - int(self.claims["iat"])

    def response(self, **extra: str) -> dict[str, Any]:
        """The body of a successful token response (RFC 6749 §5.1) for this token."""
        return {
            "access_token": self.token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.claims["scope"],
            **extra,
        }


class AccessTokenIssuer:
    """Signs with the key set its audience calls for (:mod:`gateway.signing_keys`)."""

    def __init__(self, keys: SigningKeys, issuer: str, clock: Clock) -> None:
        self._keys = keys
        self._issuer = issuer
        self._clock = clock

    async def issue(
        self,
        *,
        subject: str,
        client_id: str,
        audience: str | list[str],
        scopes: tuple[str, ...],
        lifetime: int,
        extra: Mapping[str, Any] | None = None,
        not_after: int | None = None,
        jti: str | None = None,
    ) -> IssuedToken:
        """Sign a token living ``lifetime`` seconds, and never past ``not_after`` when given."""
        keys = await self._keys.signing_set(audience)
        now = int(self._clock.now())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": subject,
            "aud": audience,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "jti": jti or new_jti(),
            "iat": now,
            "exp": now + lifetime if not_after is None else min(now + lifetime, not_after),
            **(extra or {}),
        }
        token = jwt.encode(
            claims,
            keys.signing_key,
            algorithm=ALGORITHM,
            headers={"kid": keys.signing_kid, "typ": ACCESS_TOKEN_TYP},
        )
        return IssuedToken(token, claims)


class AccessTokenVerifier:
    """Checks signature, ``typ``, ``iss``, ``exp``/``nbf`` and (when given) ``aud``.

    Revocation is a separate question asked of :class:`RevocationList`, because it must be
    asked on every request while a verified signature can be cached. Only the keys of ``purposes``
    verify (the gateway's own checks trust its ``gateway`` keys alone), and a token verifies only
    under the key set its audience calls for (:mod:`gateway.signing_keys`).
    """

    def __init__(
        self,
        keys: SigningKeys,
        purposes: tuple[KeyPurpose, ...],
        issuer: str,
        clock: Clock,
        leeway: int = 0,
    ) -> None:
        self._keys = keys
        self._purposes = purposes
        self._issuer = issuer
        self._clock = clock
        self._leeway = leeway

    async def verify(self, token: str, audience: str | None = None) -> Claims:
        try:
            unverified = inspect_jwt(token, MAX_TOKEN_BYTES)
        except MalformedJWT as exc:
            raise InvalidToken(str(exc)) from None
        header, claims = unverified.header, unverified.claims
        if str(header.get("typ", "")).lower() not in (ACCESS_TOKEN_TYP, "application/" + ACCESS_TOKEN_TYP):
            raise InvalidToken("not an access token (typ)")
        if header["alg"] != ALGORITHM:
            raise InvalidToken("unexpected alg")
        kid = str(header.get("kid", ""))
        for purpose in self._purposes:
            key = (await self._keys.rings[purpose].current()).verification_keys.get(kid)
            if key is not None:
                break
        if key is None or not verify_signature(unverified, _ES256, key):
            raise InvalidToken("signature does not verify with this issuer's keys")
        self._check_claims(claims, audience)
        verified = Claims.from_jwt(claims)
        if self._keys.purpose_for(verified.audience) != purpose:
            raise InvalidToken("signed by a key that never signs tokens for this audience")
        return verified

    def _check_claims(self, claims: dict[str, Any], audience: str | None) -> None:
        missing = [name for name in ("iss", "sub", "aud", "exp", "iat", "jti") if name not in claims]
        if missing:
            raise InvalidToken(f"token lacks the {missing[0]} claim")
        if claims["iss"] != self._issuer:
            raise InvalidToken("token from another issuer")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if audience is not None and audience not in audiences:
            raise InvalidToken("token minted for another audience")
        now = self._clock.now()
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name)
            if name in claims and (not isinstance(value, int | float) or isinstance(value, bool)):
                raise InvalidToken(f"token {name} is not a number")
        if claims["exp"] <= now - self._leeway:
            raise InvalidToken("token expired")
        if claims.get("nbf", 0) > now + self._leeway:
            raise InvalidToken("token not yet valid")
