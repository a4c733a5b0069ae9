"""Tokens signed with the gateway's own keys, as no client can obtain them over HTTP.

Some rules need such tokens (expired, by another issuer, a foreign ``typ`` on the gateway's key).
These coroutines sign them with the wired :class:`~gateway.composition.Gateway`; they must run
where its store lives: awaited directly when the gateway runs in the test's own loop
(:mod:`~tests.support.inprocess`), or through :class:`~tests.support.gateway_loop.GatewayLoop`
when it runs in a server's thread.
"""

from __future__ import annotations

from typing import Any

import jwt

from gateway.composition import Gateway
from gateway.keys import KeyPurpose
from gateway.oauth.tokens.access_tokens import AccessTokenIssuer


async def mint(
    gateway: Gateway,
    *,
    client_id: str,
    scope: str,
    sub: str | None = None,
    lifetime: int = 300,
    audience: str | None = None,
    issuer: str | None = None,
    **extra: Any,
) -> str:
    """A token signed by the gateway's current key, as its grants sign: for its MCP endpoint,
    by its own issuer, about ``client_id``, unless ``audience``, ``issuer`` or ``sub`` say else."""
    signer = gateway.issuer if issuer is None else AccessTokenIssuer(gateway.keys, issuer, gateway.clock)
    issued = await signer.issue(
        subject=sub or client_id,
        client_id=client_id,
        audience=audience or gateway.settings.mcp.resource,
        scopes=tuple(scope.split()),
        lifetime=lifetime,
        extra=extra,
    )
    return issued.token


async def sign(
    gateway: Gateway, claims: dict[str, Any], typ: str | None, purpose: KeyPurpose = "gateway"
) -> str:
    """``claims`` signed with the gateway's current key of ``purpose``, the header's ``typ`` as given
    (or none)."""
    keys = await gateway.keys.rings[purpose].current()
    headers = {"kid": keys.signing_kid, **({"typ": typ} if typ is not None else {})}
    return jwt.encode(claims, keys.signing_key, algorithm="ES256", headers=headers)
