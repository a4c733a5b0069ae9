"""The upstream OpenID provider, as federated sign-in uses it (OIDC Core 1.0, code flow + PKCE).

Discovery, PKCE (S256), nonce, the code exchange and ID-token validation are authlib's Starlette
client (``authlib.integrations.starlette_client.OAuth``), used through its lower-level calls
(``create_authorization_url``, ``fetch_access_token``, ``parse_id_token``): the endpoints of
:mod:`gateway.oauth.authorize.federation` keep the state themselves, in the store.

The discovery document must name exactly the configured issuer (OIDC Discovery §4.3), its
endpoints must be https (http on loopback), and the ID token's algorithms are pinned to the
*asymmetric* ones it advertises, so ``none`` and an HMAC keyed with a public key never pass.
The ID token's signature is verified by authlib with joserfc (not ``authlib.jose``) against the
provider's JWKS; ``iss`` and ``aud`` are pinned explicitly: with its default options authlib checks
``iss`` but accepts an ID token whose ``aud`` names another client as long as its ``azp`` names
this one. An ``iss`` in the authorization response must equal the issuer (RFC 9207: no mix-up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError

from gateway.clock import Clock
from gateway.oauth.authorize.roles import RoleMapping
from tools_registry.urls import UrlError, origin, web_url

RETRY_DISCOVERY_AFTER = 30.0
MAX_SUBJECT_LENGTH = 255
ASYMMETRIC_ALGORITHMS = frozenset(
    {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
        "Ed25519",
    }
)


class FederationError(Exception):
    """The provider cannot be used (unreachable, or its metadata is not acceptable)."""


class IdTokenRejected(Exception):
    """The token response or its ID token did not pass validation."""


@dataclass(frozen=True)
class FederationConfig:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: tuple[str, ...] = ("openid",)
    provider_name: str = ""
    leeway: int = 30
    timeout: float = 5.0
    roles: RoleMapping = field(default_factory=RoleMapping)
    """Which ID-token claim gives a person console roles, and how (AD-6)."""

    @property
    def name(self) -> str:
        return self.provider_name or urlsplit(self.issuer).netloc


def _acceptable_endpoint(url: object) -> bool:
    try:
        web_url(url, "endpoint")
    except UrlError:
        return False
    return True


class OidcProvider:
    def __init__(
        self, config: FederationConfig, *, clock: Clock, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """``metadata``: the provider's metadata given statically instead of discovered.
        ``clock`` times the pause between discovery attempts made for the sign-in page."""
        self.config = config
        self._clock = clock
        discovery = config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        self._app: Any = OAuth().register(
            name="upstream",
            client_id=config.client_id,
            client_secret=config.client_secret or None,
            server_metadata_url=None if metadata is not None else discovery,
            client_kwargs={
                "scope": " ".join(config.scopes),
                "code_challenge_method": "S256",
                "timeout": config.timeout,
            },
            **dict(metadata or {}),
        )
        self._lock = asyncio.Lock()
        self._checked = False
        self._retry_discovery_at = 0.0  # after a failure, the sign-in page waits until then to retry

    async def form_targets(self) -> list[str]:
        """Origins the sign-in page's forms may lead to (CSP ``form-action`` also governs redirects).

        While the provider is unreachable, the sign-in page does not wait for it more than once
        every ``RETRY_DISCOVERY_AFTER`` seconds: password sign-in stays fast.
        """
        targets = {origin(self.config.issuer)}
        if not self._checked and self._clock.now() < self._retry_discovery_at:
            return sorted(targets)
        try:
            metadata = await self.metadata()
        except FederationError:
            return sorted(targets)
        targets.add(origin(metadata["authorization_endpoint"]))
        return sorted(targets)

    # -- the provider's metadata ------------------------------------------------------------
    async def metadata(self) -> dict[str, Any]:
        """Discovered once, then checked and pinned; raises :class:`FederationError`."""
        async with self._lock:
            try:
                metadata: dict[str, Any] = await self._app.load_server_metadata()
            except (httpx2.HTTPError, ValueError) as exc:
                self._discovery_failed()
                raise FederationError(f"discovery failed: {type(exc).__name__}") from None
            if not self._checked:
                try:
                    self._check_and_pin(metadata)
                except FederationError:
                    self._discovery_failed()
                    raise
                self._checked = True
            return metadata

    def _discovery_failed(self) -> None:
        self._retry_discovery_at = self._clock.now() + RETRY_DISCOVERY_AFTER

    def _check_and_pin(self, metadata: dict[str, Any]) -> None:
        if metadata.get("issuer") != self.config.issuer:
            raise FederationError("the discovery document names another issuer than the one configured")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            given = name == "jwks_uri" and "jwks" in metadata
            if not given and not _acceptable_endpoint(metadata.get(name)):
                raise FederationError(f"the provider's {name} is missing or not https")
        advertised = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        pinned = [alg for alg in advertised if alg in ASYMMETRIC_ALGORITHMS]
        if not pinned:
            raise FederationError("the provider advertises no asymmetric ID token signing algorithm")
        # authlib's parse_id_token reads this list as the only algorithms it accepts.
        metadata["id_token_signing_alg_values_supported"] = pinned

    async def authorization_url(self) -> dict[str, Any]:
        """Where to send the person: ``url``, with the ``state``, ``nonce`` and PKCE
        ``code_verifier`` the callback will need; :class:`FederationError` when unavailable."""
        await self.metadata()
        try:
            authorization: dict[str, Any] = await self._app.create_authorization_url(self.config.redirect_uri)
        except (AuthlibBaseError, httpx2.HTTPError) as exc:
            raise FederationError(f"no authorization URL: {type(exc).__name__}") from None
        return authorization

    async def check_response(self, params: Mapping[str, str]) -> str | None:
        """Why the authorization response is refused, or None (RFC 6749 §4.1.2, RFC 9207)."""
        try:
            metadata = await self.metadata()
        except FederationError:
            return "provider_unavailable"
        iss = params.get("iss")
        if iss is not None and iss != self.config.issuer:
            return "issuer_mismatch"
        if iss is None and metadata.get("authorization_response_iss_parameter_supported") is True:
            return "issuer_missing"
        if params.get("error"):
            error = params["error"]
            return error if error.isascii() and error.replace("_", "").isalnum() else "error"
        if not params.get("code"):
            return "code_missing"
        return None

    # -- the code exchange and the ID token ----------------------------------------------------
    async def redeem(self, code: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code (with the PKCE verifier) and return the validated ID token's claims."""
        try:
            token = await self._app.fetch_access_token(
                redirect_uri=self.config.redirect_uri, code=code, code_verifier=code_verifier
            )
        except httpx2.HTTPError as exc:
            raise FederationError(f"token request failed: {type(exc).__name__}") from None
        except (AuthlibBaseError, ValueError) as exc:
            raise IdTokenRejected(f"token_response: {getattr(exc, 'error', type(exc).__name__)}") from None
        return await self.validate_id_token(token, nonce)

    async def validate_id_token(self, token: Mapping[str, Any], nonce: str) -> dict[str, Any]:
        """OIDC Core §3.1.3.7: signature (provider JWKS, pinned algorithms), iss, aud, azp, exp,
        iat, nonce, at_hash; raises :class:`IdTokenRejected`."""
        if not isinstance(token.get("id_token"), str):
            raise IdTokenRejected("id_token_missing")
        await self.metadata()
        options = {
            "iss": {"essential": True, "value": self.config.issuer},
            "aud": {"essential": True, "value": self.config.client_id},
        }
        try:
            claims = await self._app.parse_id_token(
                dict(token), nonce=nonce, claims_options=options, leeway=self.config.leeway
            )
        except httpx2.HTTPError as exc:
            raise FederationError(f"JWKS request failed: {type(exc).__name__}") from None
        except JoseError as exc:  # its messages name the claim or the algorithm, never a value
            raise IdTokenRejected(f"id_token: {exc}") from None
        except (AuthlibBaseError, ValueError, KeyError, TypeError) as exc:
            raise IdTokenRejected(f"id_token: {type(exc).__name__}") from None
        subject = claims.get("sub") if claims is not None else None
        if (
            not isinstance(subject, str)
            or not 0 < len(subject) <= MAX_SUBJECT_LENGTH
            or not subject.isprintable()
            or " " in subject
        ):
            raise IdTokenRejected("id_token: unusable sub")
        return dict(claims)
