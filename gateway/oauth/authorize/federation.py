"""Federated sign-in at an upstream OpenID provider (OIDC Core 1.0: authorization code + PKCE).

    POST /authorize/federated           the sign-in page's "Sign in with …" button: 303 to the provider
    GET  /authorize/federated/callback  the provider's answer: sign the person in, 303 to consent

Configured by ``oidc_issuer``, ``oidc_client_id``, ``oidc_client_secret`` (and ``oidc_scopes``,
``oidc_provider_name``); an empty issuer leaves it off.

The provider itself (discovery, the code exchange, ID-token validation) is
:class:`~gateway.oauth.authorize.oidc_provider.OidcProvider`. The state of a sign-in never lives in
``request.session`` (Starlette's SessionMiddleware: an app-wide client-side cookie in which an old
copy still holds a usable state): the upstream ``state`` names a record in the store (kept under
its SHA-256), taken once (single-use), expiring after 10 minutes, holding the PKCE verifier, the
nonce and the pending authorization request it belongs to; the callback is honoured only in the
browser that holds that request's binder cookie (CO-8). No cookie is added.

A federated person is signed in as ``oidc:<sub>``: the provider's stable subject, never its e-mail
or display name (those can be reassigned). If a built-in user of that exact name exists, the
federated sign-in is refused rather than merged with it. The session remembers the console roles
the operator's mapping gives the values of one claim of the ID token (``oidc_role_claim``,
``[oidc_role_mapping]``; AD-6).

The console (``/admin``) signs people in the same way, outside any authorization request: its
state record names the path to return to and the digest of the browser's binder cookie, and the
callback is honoured only in the browser holding that cookie.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway import paths
from gateway.audit import AuditLog
from gateway.constant_time import same
from gateway.errors import OAuthError
from gateway.oauth.authorize import pages
from gateway.oauth.authorize.browser_state import BrowserState
from gateway.oauth.authorize.oidc_provider import FederationError, IdTokenRejected, OidcProvider
from gateway.oauth.authorize.users import FEDERATED_PREFIX, UserDirectory
from gateway.oauth.clients.registry import ClientRegistry
from gateway.oauth.forms import read_form
from gateway.store import Store, digest

logger = logging.getLogger("mcp_gateway.federation")

SUBJECT_PREFIX = FEDERATED_PREFIX
STATE_TTL = 600
MAX_FORM_BYTES = 16 * 1024
_STATE = "federation-state:"
_LEAVING = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class FederatedSignIn:
    def __init__(
        self,
        provider: OidcProvider,
        *,
        browser: BrowserState,
        clients: ClientRegistry,
        users: UserDirectory,
        store: Store,
        audit: AuditLog,
    ) -> None:
        self.provider = provider
        self._name = provider.config.name
        self._browser = browser
        self._clients = clients
        self._users = users
        self._store = store
        self._audit = audit

    def routes(self) -> list[Route]:
        return [
            Route(paths.FEDERATED_START, self.start, methods=["POST"]),
            Route(paths.FEDERATED_CALLBACK, self.callback, methods=["GET"]),
        ]

    @property
    def button(self) -> tuple[str, str]:
        """(action, provider name) for the sign-in page."""
        return paths.FEDERATED_START, self._name

    async def form_targets(self) -> list[str]:
        """Origins the sign-in page's forms may lead to (CSP ``form-action``)."""
        return await self.provider.form_targets()

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
        self._audit.record("federated_sign_in", outcome="started", client_id=pending.client_id)
        return await self._to_provider({"request_id": request_id})

    async def start_returning(self, binder: str, return_to: str) -> Response:
        """A sign-in outside any authorization request (the console's): once the provider signed
        the person in, the browser holding ``binder`` goes back to ``return_to``, a path of ours.
        The caller has checked its own form's CSRF token."""
        self._audit.record("federated_sign_in", outcome="started", purpose="console")
        return await self._to_provider({"return_to": return_to, "binder": digest(binder)})

    async def _to_provider(self, continuation: dict[str, str]) -> Response:
        try:
            authorization = await self.provider.authorization_url()
        except FederationError as exc:
            logger.warning("federated sign-in unavailable: %s", exc)
            return pages.error_page(f"{self._name} cannot be reached for sign-in right now.", 502)
        record = {
            **continuation,
            "code_verifier": authorization["code_verifier"],
            "nonce": authorization["nonce"],
        }
        await self._store.put(_STATE + digest(authorization["state"]), json.dumps(record), STATE_TTL)
        return RedirectResponse(authorization["url"], status_code=303, headers=_LEAVING)

    # -- GET /authorize/federated/callback -----------------------------------------------------
    async def callback(self, request: Request) -> Response:
        params = request.query_params
        state = params.get("state", "")
        taken = await self._store.take(_STATE + digest(state)) if state else None
        if taken is None:
            self._audit.record("federated_sign_in", outcome="refused", error="unknown_state")
            return pages.error_page("This sign-in has expired or was already used.", 403)
        record = json.loads(taken)
        if "return_to" in record:
            return await self._returning(request, record)
        request_id: str = record["request_id"]
        pending = await self._browser.load_pending(request, request_id, None)
        client = await self._clients.get(pending.client_id) if pending is not None else None
        if pending is None or client is None:
            self._audit.record("federated_sign_in", outcome="refused", error="foreign_browser")
            return pages.error_page(
                "This sign-in was not started in this browser, or its request has ended.", 403
            )
        return await self._sign_in(
            request,
            record,
            f"{paths.CONSENT}?{urlencode({'request_id': request_id})}",
            client_id=client.client_id,
        )

    async def _returning(self, request: Request, record: dict[str, str]) -> Response:
        binder = request.cookies.get(self._browser.cookies.binder, "")
        back = record["return_to"]
        if not same(digest(binder), record["binder"]) or not back.startswith("/") or back.startswith("//"):
            self._audit.record("federated_sign_in", outcome="refused", error="foreign_browser")
            return pages.error_page("This sign-in was not started in this browser.", 403)
        return await self._sign_in(request, record, back, purpose="console")

    async def _sign_in(self, request: Request, record: dict[str, str], then: str, **who: str) -> Response:
        """Check the provider's answer, redeem its code, sign the person in with the roles their ID
        token maps to (AD-6), and send the browser on to ``then``."""
        params = request.query_params
        refused = await self.provider.check_response(params)
        if refused is not None:
            self._audit.record("federated_sign_in", outcome="refused", error=refused, **who)
            return pages.error_page(f"{self._name} did not sign you in ({refused}).", 403)
        try:
            claims = await self.provider.redeem(params["code"], record["code_verifier"], record["nonce"])
        except IdTokenRejected as exc:
            self._audit.record("federated_sign_in", outcome="refused", error=str(exc), **who)
            return pages.error_page(f"The answer from {self._name} was not accepted.", 403)
        except FederationError as exc:
            logger.warning("federated sign-in failed: %s", exc)
            return pages.error_page(f"{self._name} cannot be reached for sign-in right now.", 502)
        username = SUBJECT_PREFIX + claims["sub"]
        if await self._users.get(username) is not None:
            self._audit.record("federated_sign_in", outcome="refused", error="name_taken", **who)
            return pages.error_page("This account cannot sign in here: a local user has its name.", 403)
        roles = self.provider.config.roles.roles_from(claims)
        self._audit.record(
            "sign_in", outcome="granted", sub=username, method="oidc", roles=" ".join(roles), **who
        )
        response = RedirectResponse(then, status_code=303, headers=_LEAVING)
        await self._browser.sign_in(response, username, federated_roles=roles)
        return response
