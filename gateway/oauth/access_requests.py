"""Access requests, from the agent's side (AP-3): file one, then wait for the decision.

    POST /access-requests          file: scope, resource (optional), justification, duration (s)
    GET  /access-requests/{id}     look (Authorization: Basic, or Bearer with the client's own token)
    POST /access-requests/{id}     look, authenticated in the form exactly as at /token

The agent authenticates exactly as at ``/token`` (a fresh ``client_assertion`` for
``private_key_jwt``, Basic or the form for secrets), or with an access token this gateway issued
it (then the person it acts for, if any, is the request's subject too). A public client has no
credential of its own, so it must use its access token. Only the client that filed a request may
read it: any other caller is told it does not exist.

The answer names the status (``pending``, ``approved`` with what was granted, ``denied`` with the
reason, ``expired``) and, while pending, how many seconds to wait before looking again
(``interval``), as RFC 8628 does for device codes. Once approved, the agent asks ``/token`` again.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.approvals.request_desk import RequestDesk
from gateway.approvals.requests import AccessRequest
from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.errors import NO_STORE, InvalidClient, InvalidRequest, NotFound, OAuthError
from gateway.oauth.clients.model import Client
from gateway.oauth.clients.registry import ClientRegistry
from gateway.oauth.forms import Form, read_form
from gateway.oauth.token_endpoint.client_auth import ClientAuthenticator
from gateway.oauth.tokens.access_tokens import AccessTokenVerifier, InvalidToken
from gateway.oauth.tokens.audiences import Targets
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.oauth.tokens.revocation import RevocationList
from gateway.oauth.tokens.scope_requests import parse_scope

MAX_DURATION_DIGITS = 10


class AccessRequestEndpoints:
    def __init__(
        self,
        *,
        desk: RequestDesk,
        authenticator: ClientAuthenticator,
        clients: ClientRegistry,
        verifier: AccessTokenVerifier,
        revocations: RevocationList,
        marks: NotBeforeMarks,
        targets: Targets,
        own_audiences: frozenset[str],
        status_url: str,
        max_body_bytes: int,
        clock: Clock,
        audit: AuditLog | None = None,
    ) -> None:
        self._audit = audit
        self._desk = desk
        self._authenticator = authenticator
        self._clients = clients
        self._verifier = verifier
        self._revocations = revocations
        self._marks = marks
        self._targets = targets
        self._own_audiences = own_audiences
        self._status_url = status_url.rstrip("/")
        self._max_body_bytes = max_body_bytes
        self._clock = clock

    async def file(self, request: Request) -> Response:
        form = await read_form(request, self._max_body_bytes)
        try:
            return await self._file(request, form)
        except OAuthError as exc:  # AU-4: a request refused before it was filed is recorded too
            if self._audit is not None:
                self._audit.record(
                    "access_requested",
                    outcome="refused",
                    scope=(form.get("scope") or "")[:512],
                    error=exc.error,
                    reason=exc.description,
                )
            raise

    async def _file(self, request: Request, form: Form) -> Response:
        client, subject = await self._requester(request, form)
        filed = await self._desk.file(
            client_id=client.client_id,
            subject=subject,
            scopes=parse_scope(form.get("scope")),
            resource=self._targets.choose(client, form.all("resource")),
            justification=form.get("justification") or "",
            duration=_duration(form.get("duration")),
            origin="agent",
        )
        status_url = f"{self._status_url}/{filed.request_id}"
        return JSONResponse(self.view(filed), status_code=201, headers={**NO_STORE, "Location": status_url})

    async def look(self, request: Request) -> Response:
        if request.method == "POST":
            form = await read_form(request, self._max_body_bytes)
        else:
            form = Form({}, {})
        client, _ = await self._requester(request, form)
        found = await self._desk.book.get(request.path_params["request_id"])
        if found is None or found.client_id != client.client_id:
            raise NotFound("no such access request")
        return JSONResponse(self.view(found), headers=NO_STORE)

    def view(self, request: AccessRequest) -> dict[str, Any]:
        """What the agent reads: never who decided, only what was decided."""
        status = request.current_status(self._clock.now())
        body: dict[str, Any] = {
            "request_id": request.request_id,
            "status": status,
            "scope": " ".join(request.scopes),
            "resource": request.resource,
            "created_at": int(request.created_at),
            "status_url": f"{self._status_url}/{request.request_id}",
        }
        if status == "pending":
            body["expires_at"] = int(request.expires_at)
            body["interval"] = self._desk.policy.poll_interval
        elif status == "approved":
            body["granted_scope"] = " ".join(request.granted_scopes)
            body["granted_resource"] = request.granted_resource
            body["granted_until"] = int(request.granted_until or 0)
        elif status == "denied":
            body["reason"] = request.reason
        return body

    async def _requester(self, request: Request, form: Form) -> tuple[Client, str | None]:
        authorization = request.headers.get("authorization")
        if authorization is not None and authorization[:7].lower() == "bearer ":
            return await self._token_holder(authorization[7:].strip())
        client = await self._authenticator.authenticate(authorization, form)
        if client.auth_method == "none":
            raise InvalidClient("a public client files and reads requests with its access token")
        return client, None

    async def _token_holder(self, token: str) -> tuple[Client, str | None]:
        """A live access token of this gateway's own: its client, and the person it acts for."""
        try:
            claims = await self._verifier.verify(token)
        except InvalidToken:
            raise InvalidClient("the access token is not acceptable") from None
        if (
            not self._own_audiences & set(claims.audience)
            or await self._revocations.is_revoked(claims.jti)
            or not await self._marks.allows_token(claims)
        ):
            raise InvalidClient("the access token is not acceptable")
        client = await self._clients.get(claims.client_id)
        if client is None:
            raise InvalidClient("the access token's client is gone")
        subject = claims.subject if claims.subject != claims.client_id else None
        return client, subject


def _duration(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_DURATION_DIGITS or int(value) == 0:
        raise InvalidRequest("duration must be a positive whole number of seconds")
    return int(value)
