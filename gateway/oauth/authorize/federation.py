"""Federated sign-in at an upstream OpenID provider (OIDC Core 1.0: authorization code + PKCE).

    POST /authorize/federated           the sign-in page's "Sign in with …" button: 303 to the provider
    GET  /authorize/federated/callback  the provider's answer: sign the person in, 303 to consent

Configured by ``oidc_issuer``, ``oidc_client_id``, ``oidc_client_secret`` (and ``oidc_scopes``,
``oidc_provider_name``); an empty issuer leaves it off.

Discovery, PKCE (S256), nonce, the code exchange and ID-token validation are authlib's Starlette
client (``authlib.integrations.starlette_client.OAuth``), used through its lower-level calls
(``create_authorization_url``, ``fetch_access_token``, ``parse_id_token``) instead of
``authorize_redirect`` / ``authorize_access_token``. Those two keep the state, the PKCE verifier and
the nonce in ``request.session``: Starlette's SessionMiddleware, an app-wide client-side cookie in
which an old copy still holds a usable state. Here the upstream ``state`` names a record in the
store (kept under its SHA-256), taken once (single-use), expiring after 10 minutes, holding the
verifier, the nonce and the pending authorization request it belongs to; the callback is honoured
only in the browser that holds that request's binder cookie (CO-8). No cookie is added.

The ID token's signature is verified by authlib with joserfc (not ``authlib.jose``) against the
provider's JWKS, with the algorithm list pinned to the *asymmetric* algorithms the provider
advertises, so ``none`` and an HMAC keyed with a public key never pass. ``iss`` and ``aud`` are
pinned explicitly: with its default options authlib checks ``iss`` but accepts an ID token whose
``aud`` names another client as long as its ``azp`` names this one. The discovery document must
name exactly the configured issuer (OIDC Discovery §4.3), and an ``iss`` in the authorization
response must equal it (RFC 9207: no mix-up).

A federated person is signed in as ``oidc:<sub>``: the provider's stable subject, never its e-mail
or display name (those can be reassigned). If a built-in user of that exact name exists, the
federated sign-in is refused rather than merged with it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway import paths
from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.config import Settings
from gateway.errors import OAuthError
from gateway.oauth.authorize import pages
from gateway.oauth.authorize.browser_state import BrowserState
from gateway.oauth.authorize.users import UserDirectory
from gateway.oauth.clients.registry import ClientRegistry
from gateway.oauth.forms import read_form
from gateway.store import Store, digest
from tools_registry.urls import UrlError, origin, web_url

logger = logging.getLogger("mcp_gateway.federation")

SUBJECT_PREFIX = "oidc:"
STATE_TTL = 600
RETRY_DISCOVERY_AFTER = 30.0
MAX_FORM_BYTES = 16 * 1024
MAX_SUBJECT_LENGTH = 255
_STATE = "federation-state:"
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

    @property
    def name(self) -> str:
        return self.provider_name or urlsplit(self.issuer).netloc

    @classmethod
    def from_settings(cls, settings: Settings) -> FederationConfig:
        return cls(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            redirect_uri=settings.endpoint(paths.FEDERATED_CALLBACK),
            scopes=settings.oidc_scopes,
            provider_name=settings.oidc_provider_name,
            leeway=settings.clock_leeway,
        )


def _acceptable_endpoint(url: object) -> bool:
    try:
        web_url(url, "endpoint")
    except UrlError:
        return False
    return True


class FederatedSignIn:
    def __init__(
        self,
        config: FederationConfig,
        *,
        browser: BrowserState,
        clients: ClientRegistry,
        users: UserDirectory,
        store: Store,
        audit: AuditLog,
        clock: Clock,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """``metadata``: the provider's metadata given statically instead of discovered.
        ``clock`` times the pause between discovery attempts made for the sign-in page."""
        self.config = config
        self._clock = clock
        self._browser = browser
        self._clients = clients
        self._users = users
        self._store = store
        self._audit = audit
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

    def routes(self) -> list[Route]:
        return [
            Route(paths.FEDERATED_START, self.start, methods=["POST"]),
            Route(paths.FEDERATED_CALLBACK, self.callback, methods=["GET"]),
        ]

    @property
    def button(self) -> tuple[str, str]:
        """(action, provider name) for the sign-in page."""
        return paths.FEDERATED_START, self.config.name

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

    # -- POST /authorize/federated -----------------------------------------------------------
    async def start(self, request: Request) -> Response:
        try:
            form = await read_form(request, MAX_FORM_BYTES)
        except OAuthError:
            return pages.error_page("This sign-in form could not be read.")
        request_id = form.get("request_id") or ""
        pending = await self._browser.load_pending(request, request_id, form.get("csrf") or "")
        if pending is None:
            return pages.error_page("This sign-in form has expired or was not issued to this browser.", 403)
        try:
            await self.metadata()
            authorization: dict[str, Any] = await self._app.create_authorization_url(self.config.redirect_uri)
        except (FederationError, AuthlibBaseError, httpx2.HTTPError) as exc:
            logger.warning("federated sign-in unavailable: %s", exc)
            return pages.error_page(f"{self.config.name} cannot be reached for sign-in right now.", 502)
        record = {
            "request_id": request_id,
            "code_verifier": authorization["code_verifier"],
            "nonce": authorization["nonce"],
        }
        await self._store.put(_STATE + digest(authorization["state"]), json.dumps(record), STATE_TTL)
        self._audit.record("federated_sign_in", outcome="started", client_id=pending.client_id)
        return RedirectResponse(
            authorization["url"],
            status_code=303,
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    # -- GET /authorize/federated/callback -----------------------------------------------------
    async def callback(self, request: Request) -> Response:
        params = request.query_params
        state = params.get("state", "")
        taken = await self._store.take(_STATE + digest(state)) if state else None
        if taken is None:
            self._audit.record("federated_sign_in", outcome="refused", error="unknown_state")
            return pages.error_page("This sign-in has expired or was already used.", 403)
        record = json.loads(taken)
        request_id: str = record["request_id"]
        pending = await self._browser.load_pending(request, request_id, None)
        client = await self._clients.get(pending.client_id) if pending is not None else None
        if pending is None or client is None:
            self._audit.record("federated_sign_in", outcome="refused", error="foreign_browser")
            return pages.error_page(
                "This sign-in was not started in this browser, or its request has ended.", 403
            )
        refused = await self._check_response(params)
        if refused is not None:
            self._audit.record(
                "federated_sign_in", outcome="refused", client_id=client.client_id, error=refused
            )
            return pages.error_page(f"{self.config.name} did not sign you in ({refused}).", 403)
        try:
            claims = await self.redeem(params["code"], record["code_verifier"], record["nonce"])
        except IdTokenRejected as exc:
            self._audit.record(
                "federated_sign_in", outcome="refused", client_id=client.client_id, error=str(exc)
            )
            return pages.error_page(f"The answer from {self.config.name} was not accepted.", 403)
        except FederationError as exc:
            logger.warning("federated sign-in failed: %s", exc)
            return pages.error_page(f"{self.config.name} cannot be reached for sign-in right now.", 502)
        username = SUBJECT_PREFIX + claims["sub"]
        if await self._users.get(username) is not None:
            self._audit.record(
                "federated_sign_in", outcome="refused", client_id=client.client_id, error="name_taken"
            )
            return pages.error_page("This account cannot sign in here: a local user has its name.", 403)
        self._audit.record(
            "sign_in", outcome="granted", sub=username, client_id=client.client_id, method="oidc"
        )
        response = RedirectResponse(
            f"{paths.CONSENT}?{urlencode({'request_id': request_id})}",
            status_code=303,
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )
        await self._browser.sign_in(response, username)
        return response

    async def _check_response(self, params: Mapping[str, str]) -> str | None:
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
