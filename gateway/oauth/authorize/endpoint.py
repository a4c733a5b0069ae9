"""``/authorize``: authorization code + PKCE for agents acting for a person (CO-1 … CO-8).

    GET  /authorize            validate, then sign-in page, consent page, or straight back with a code
    POST /authorize/login      built-in users; 303 to the consent step
    GET  /authorize/consent    the consent page (or the code, when consent is remembered)
    POST /authorize/consent    allow (with the ticked scopes) or deny; 303 back to the client

Scopes the client does not hold but that policy grants after approval are named on the consent
page and, when the person allows, filed as an access request (AP-3); the code carries only what
the client holds now, and when it holds none of what it asked for, a page says what went for
approval instead of a redirect.

Until ``client_id`` and ``redirect_uri`` are known good, errors are an error page, never a
redirect (no open redirector). After that, every answer goes back to the client's redirect URI
with ``state`` and ``iss`` (RFC 9207), errors included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import paths
from gateway.approvals.entitlements import Entitlements
from gateway.audit import AuditLog
from gateway.errors import InvalidClient, OAuthError
from gateway.oauth.authorize import pages
from gateway.oauth.authorize.approval_at_consent import ApprovalAtConsent
from gateway.oauth.authorize.authorization_request import RedirectedError, validate_request
from gateway.oauth.authorize.browser_state import BrowserState, PendingRequest
from gateway.oauth.authorize.password_sign_in import PasswordSignIn
from gateway.oauth.clients.metadata_documents import looks_like_metadata_url
from gateway.oauth.clients.model import Client
from gateway.oauth.clients.redirect_uris import redirect_matches
from gateway.oauth.clients.registry import ClientRegistry
from gateway.oauth.tokens.audiences import Targets
from gateway.oauth.tokens.authorization_codes import AuthorizationCodes, CodeGrant
from gateway.rate_limits import WindowCounter
from gateway.request_body import BodyTooLarge, read_page_form
from tools_registry.urls import origin

if TYPE_CHECKING:
    from gateway.oauth.authorize.federation import FederatedSignIn

MAX_FORM_BYTES = 16 * 1024


class AuthorizationEndpoint:
    def __init__(
        self,
        *,
        issuer: str,
        clients: ClientRegistry,
        passwords: PasswordSignIn,
        browser: BrowserState,
        codes: AuthorizationCodes,
        targets: Targets,
        scope_descriptions: Mapping[str, str],
        audit: AuditLog,
        document_lookups: WindowCounter,
        entitlements: Entitlements,
        approvals: ApprovalAtConsent,
        federation: FederatedSignIn | None = None,
    ) -> None:
        self._entitlements = entitlements
        self._approvals = approvals
        self._federation = federation
        self._issuer = issuer
        self._clients = clients
        self._passwords = passwords
        self._browser = browser
        self._codes = codes
        self._targets = targets
        self._scope_descriptions = scope_descriptions
        self._audit = audit
        self._document_lookups = document_lookups

    # -- the redirect back to the client ---------------------------------------------------
    def _back(self, redirect_uri: str, params: dict[str, str], state: str | None) -> Response:
        params = {**params, **({"state": state} if state is not None else {}), "iss": self._issuer}
        separator = "&" if urlsplit(redirect_uri).query else "?"
        return RedirectResponse(redirect_uri + separator + urlencode(params), status_code=303)

    # -- GET /authorize --------------------------------------------------------------------
    async def authorize(self, request: Request) -> Response:
        pairs = parse_qsl(request.url.query, keep_blank_values=True)
        params = dict(pairs)
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        if looks_like_metadata_url(client_id):  # RG-3: each such id may cost the gateway a fetch
            address = request.client.host if request.client is not None else "unknown"
            if (wait := await self._document_lookups.hit(address)) is not None:
                self._refused_on_page(client_id, "rate_limited")
                return pages.error_page(
                    f"Too many client metadata documents asked for from here; try again in {wait} s.", 429
                )
        try:
            client = await self._clients.get(client_id) if client_id else None
        except InvalidClient as exc:  # a client metadata document that cannot be used (RG-2)
            self._refused_on_page(client_id, "invalid_client")
            return pages.error_page(f"This client cannot be used: {exc.description}")
        if client is None or "authorization_code" not in client.grant_types:
            self._refused_on_page(client_id, "unauthorized_client")
            return pages.error_page("Unknown client, or this client may not use the authorization code flow.")
        if not redirect_uri or not any(redirect_matches(r, redirect_uri) for r in client.redirect_uris):
            self._refused_on_page(client.client_id, "invalid_redirect_uri")
            return pages.error_page("The redirect URI is not registered for this client.")
        state = params.get("state")
        try:
            if len(pairs) != len(params):
                raise RedirectedError("invalid_request", "a parameter is repeated")
            held = await self._entitlements.held(client.client_id, client.scopes)
            fields = validate_request(
                client, redirect_uri, params, self._targets, held, self._approvals.approvable
            )
        except RedirectedError as exc:
            self._audit.record(
                "authorize_refused", outcome="refused", client_id=client.client_id, error=exc.error
            )
            if client.self_registered:  # CO-4: its redirect URI is nobody's word but its own
                return pages.error_page(f"This authorization request is not valid: {exc.description}")
            answer = {"error": exc.error, "error_description": exc.description}
            return self._back(redirect_uri, answer, state if len(pairs) == len(params) else None)
        binder, new_binder = self._browser.binder(request)
        pending = self._browser.new_pending(binder, **fields)
        request_id = await self._browser.save_pending(pending)
        response = await self._next_step(request, client, request_id, pending)
        if new_binder:
            self._browser.cookies.set(response, self._browser.cookies.binder, binder, 600)
        return response

    # -- the steps after validation ----------------------------------------------------------
    async def _next_step(
        self,
        request: Request,
        client: Client,
        request_id: str,
        pending: PendingRequest,
        error: str | None = None,
        status: int = 401,
    ) -> Response:
        user = await self._browser.signed_in_user(request)
        targets = [origin(pending.redirect_uri)]
        hidden = {"request_id": request_id, "csrf": pending.csrf}
        if user is None:
            federation = self._federation
            return pages.login_page(
                action=paths.LOGIN,
                hidden=hidden,
                client_name=client.name or client.client_id,
                error=error,
                status=status,
                form_targets=targets + (await federation.form_targets() if federation else []),
                federated=federation.button if federation else None,
            )
        remembered = await self._browser.remembered_scopes(user, client.client_id)
        if not pending.awaiting and set(pending.scopes) <= remembered:
            return await self._issue_code(request_id, pending, user, pending.scopes)
        return pages.consent_page(
            action=paths.CONSENT,
            hidden=hidden,
            client_name=client.name or client.client_id,
            client_id=client.client_id,
            redirect_host=urlsplit(pending.redirect_uri).netloc,
            user=user,
            scopes=[(s, self._scope_descriptions.get(s, "")) for s in pending.scopes],
            awaiting=[(s, self._scope_descriptions.get(s, "")) for s in pending.awaiting],
            form_targets=targets,
        )

    async def _issue_code(
        self, request_id: str, pending: PendingRequest, user: str, scopes: tuple[str, ...]
    ) -> Response:
        if not await self._browser.finish_pending(request_id):
            return pages.error_page("This authorization request has already been completed.")
        code = await self._codes.issue(
            CodeGrant(
                client_id=pending.client_id,
                redirect_uri=pending.redirect_uri,
                code_challenge=pending.code_challenge,
                resource=pending.resource,
                scopes=scopes,
                subject=user,
            )
        )
        self._audit.record(
            "authorize_granted",
            outcome="granted",
            client_id=pending.client_id,
            sub=user,
            scope=" ".join(scopes),
            audience=pending.resource,
        )
        return self._back(pending.redirect_uri, {"code": code}, pending.state)

    def _refused_on_page(self, client_id: str | None, error: str) -> None:
        """A request refused on the gateway's own page (its client or redirect URI cannot be
        trusted with the answer): recorded all the same (AU-4)."""
        named = client_id[:256] if client_id else None
        self._audit.record("authorize_refused", outcome="refused", client_id=named, error=error, on_page=True)

    async def _form(self, request: Request) -> dict[str, list[str]]:
        try:
            return await read_page_form(request, MAX_FORM_BYTES)
        except BodyTooLarge as exc:
            raise OAuthError(str(exc)) from None

    async def _pending_from_form(
        self, request: Request, form: dict[str, list[str]]
    ) -> tuple[str, PendingRequest, Client] | None:
        request_id = (form.get("request_id") or [""])[0]
        pending = await self._browser.load_pending(request, request_id, (form.get("csrf") or [""])[0])
        client = await self._known_client(pending.client_id) if pending is not None else None
        if pending is None or client is None:
            return None
        return request_id, pending, client

    async def _known_client(self, client_id: str) -> Client | None:
        """The client of a pending request; None if it is gone or its metadata document went bad."""
        try:
            return await self._clients.get(client_id)
        except InvalidClient:
            return None

    # -- POST /authorize/login ---------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        form = await self._form(request)
        found = await self._pending_from_form(request, form)
        if found is None:
            return pages.error_page("This sign-in form has expired or was not issued to this browser.", 403)
        request_id, pending, client = found
        attempt = await self._passwords.attempt(
            request,
            (form.get("username") or [""])[0],
            (form.get("password") or [""])[0],
            client_id=client.client_id,
        )
        if attempt.user is None:
            return await self._next_step(
                request, client, request_id, pending, error=attempt.error, status=attempt.status
            )
        response = RedirectResponse(
            f"{paths.CONSENT}?{urlencode({'request_id': request_id})}", status_code=303
        )
        await self._browser.sign_in(response, attempt.user.username)
        return response

    # -- GET /authorize/consent --------------------------------------------------------------
    async def consent_form(self, request: Request) -> Response:
        request_id = request.query_params.get("request_id", "")
        pending = await self._browser.load_pending(request, request_id, None)
        client = await self._known_client(pending.client_id) if pending is not None else None
        if pending is None or client is None:
            return pages.error_page(
                "This authorization request has expired or was not made in this browser.", 403
            )
        return await self._next_step(request, client, request_id, pending)

    # -- POST /authorize/consent -------------------------------------------------------------
    async def consent(self, request: Request) -> Response:
        form = await self._form(request)
        found = await self._pending_from_form(request, form)
        user = await self._browser.signed_in_user(request)
        if found is None or user is None:
            return pages.error_page("This consent form has expired or was not issued to this browser.", 403)
        request_id, pending, client = found
        if (form.get("decision") or [""])[0] != "allow":
            await self._browser.finish_pending(request_id)
            self._audit.record("consent", outcome="denied", sub=user, client_id=client.client_id)
            return self._back(
                pending.redirect_uri,
                {"error": "access_denied", "error_description": "the user denied access"},
                pending.state,
            )
        ticked = set(form.get("scope", []))
        granted = tuple(s for s in pending.scopes if s in ticked)
        if not granted and not pending.awaiting:
            await self._browser.finish_pending(request_id)
            self._audit.record(
                "consent", outcome="denied", sub=user, client_id=client.client_id, reason="no scope ticked"
            )
            return self._back(
                pending.redirect_uri,
                {"error": "access_denied", "error_description": "no scope was granted"},
                pending.state,
            )
        if not granted:  # only the scopes awaiting approval are left: they are what the person allowed
            if not await self._browser.finish_pending(request_id):
                return pages.error_page("This authorization request has already been completed.")
            return await self._approvals.file_and_tell(pending, user, client.name or client.client_id)
        if pending.awaiting:
            await self._approvals.file(pending, user)
        await self._browser.remember_consent(user, client.client_id, granted)
        self._audit.record(
            "consent", outcome="granted", sub=user, client_id=client.client_id, scope=" ".join(granted)
        )
        return await self._issue_code(request_id, pending, user, granted)
