"""Reading the access tokens the gateway issues: as the test that holds one, and as a resource server.

:func:`claims_of` reads a token's claims without checking anything (the test knows where it came
from); :func:`verified_claims` checks it as any resource server would: the key from the published
JWKS, pyjwt, the RFC 9068 header and required claims.
"""

from __future__ import annotations

from typing import Any

import anyio
import jwt

from tests.support.gateway_server import RunningGateway

REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"]


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a JWT (an access token, a client assertion), unverified."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def verified_claims(gateway: RunningGateway, token: str, audience: str) -> dict[str, Any]:
    """The claims of ``token`` once verified against the gateway's published JWKS, for ``audience``."""
    header = jwt.get_unverified_header(token)
    assert (header["typ"], header["alg"]) == ("at+jwt", "ES256"), header
    jwks_client = jwt.PyJWKClient(gateway.endpoint("/jwks.json"), cache_keys=False)
    signing_key = await anyio.to_thread.run_sync(jwks_client.get_signing_key_from_jwt, token)
    assert signing_key.key_id == header["kid"]
    claims: dict[str, Any] = jwt.decode(
        token,
        signing_key,
        algorithms=["ES256"],
        audience=audience,
        issuer=gateway.issuer,
        options={"require": REQUIRED_CLAIMS},
    )
    return claims
