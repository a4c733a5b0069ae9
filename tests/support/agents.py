"""Test agents: key pairs, signed client assertions, and the token requests they make with them.

An agent is a ``private_key_jwt`` client: :class:`AgentKey` holds its key and signs assertions,
:func:`agent_token` gets a token by ``client_credentials``, :func:`revoke` gives one back.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from gateway.keys import thumbprint

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class AgentKey:
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(self.private_key.public_key()))
        jwk["kid"] = thumbprint(jwk)
        jwk["alg"] = "ES256"
        jwk["use"] = "sig"
        return jwk

    @property
    def kid(self) -> str:
        return str(self.public_jwk["kid"])

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    @property
    def pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def assertion(
        self, client_id: str, audience: Any, *, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        """A client assertion; keyword arguments override claims (``None`` removes one)."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": str(uuid.uuid4()),
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(
            body, self.private_key, algorithm="ES256", headers={"kid": self.kid, **(headers or {})}
        )


def assertion_form(assertion: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
        **extra,
    }


class AuthorizationServer(Protocol):
    """Where an agent gets and revokes tokens (a :class:`RunningGateway`, or one replica of it)."""

    @property
    def issuer(self) -> str: ...

    def endpoint(self, path: str) -> str: ...


async def agent_token(
    http: httpx2.AsyncClient,
    gateway: AuthorizationServer,
    key: AgentKey,
    client_id: str,
    *,
    scope: str | None = None,
    resource: str | None = None,
) -> str:
    """``client_credentials`` with a private_key_jwt assertion (``aud`` = the issuer)."""
    extra = {name: value for name, value in (("scope", scope), ("resource", resource)) if value is not None}
    response = await http.post(
        gateway.endpoint("/token"), data=assertion_form(key.assertion(client_id, gateway.issuer), **extra)
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def revoke(
    http: httpx2.AsyncClient, gateway: AuthorizationServer, key: AgentKey, client_id: str, token: str
) -> None:
    form = assertion_form(key.assertion(client_id, gateway.issuer), token=token)
    del form["grant_type"]
    response = await http.post(gateway.endpoint("/revoke"), data=form)
    assert response.status_code == 200, response.text
