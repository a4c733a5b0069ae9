"""Scopes a person's agent asks for at ``/authorize`` that it does not hold yet, but that policy
grants after approval (AP-3).

They never go into the code. They stay in the pending request, the consent page names them, and
when the person allows, they are filed as one access request for the agent (``origin`` ``consent``,
the person as its subject, so the person can never approve it: AP-4) through the request desk, the
one way in for every filer.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

from gateway.approvals.request_desk import RequestDesk
from gateway.approvals.requests import AccessRequest
from gateway.audit import AuditLog
from gateway.errors import OAuthError
from gateway.oauth.authorize import pages
from gateway.oauth.authorize.browser_state import PendingRequest


class ApprovalAtConsent:
    def __init__(self, desk: RequestDesk, audit: AuditLog, scope_descriptions: Mapping[str, str]) -> None:
        self._desk = desk
        self._audit = audit
        self._descriptions = scope_descriptions

    def approvable(self, scope: str) -> bool:
        """Whether policy would grant ``scope`` after approval (not at once, not never)."""
        return self._desk.policy.rule_for(scope).decision == "approval"

    async def file(self, pending: PendingRequest, user: str) -> AccessRequest | None:
        """The request filed for the scopes ``pending`` awaits (the same one when an identical
        request is pending already); None, audited, when the desk refuses it."""
        try:
            return await self._desk.file(
                client_id=pending.client_id,
                subject=user,
                scopes=pending.awaiting,
                origin="consent",
                justification=f"asked for at sign-in by {user}",
                resource=pending.resource,
            )
        except OAuthError as exc:
            self._audit.record(
                "consent_access_request",
                outcome="refused",
                client_id=pending.client_id,
                sub=user,
                error=exc.error,
                error_description=exc.description,
            )
            return None

    async def file_and_tell(self, pending: PendingRequest, user: str, client_name: str) -> Response:
        """When nothing could be granted now: file the request and say so on a page, instead of
        sending the client an error (the pending request is finished already)."""
        filed = await self.file(pending, user)
        if filed is None:
            return pages.error_page(
                "These permissions cannot be asked for now; the reason is in the audit log."
            )
        self._audit.record(
            "consent",
            outcome="sent_for_approval",
            sub=user,
            client_id=pending.client_id,
            request_id=filed.request_id,
        )
        described = [(scope, self._descriptions.get(scope, "")) for scope in filed.scopes]
        return pages.approval_requested_page(
            client_name=client_name, request_id=filed.request_id, scopes=described
        )
