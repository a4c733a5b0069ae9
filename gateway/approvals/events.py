"""What the approval loop tells the world: an audit event for every change, and an announcement for
the events webhooks may subscribe to (``access.requested``, ``access.approved``, ``access.denied``,
``grant.revoked``, ``grant.expired``, ``review.due``, ``call.pending``).

The seams the desks need from the rest of the gateway are Protocols here, so the approval loop
imports nothing of the roles that use it.
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.approvals.grants import Grant
from gateway.approvals.held_calls import HeldCall
from gateway.approvals.requests import AccessRequest
from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.webhooks import EVENTS, Announcer


class GrantMarks(Protocol):
    """The not-before marks (RV-2): revoking a grant makes every live token carrying it inactive,
    and a grant made before its client was removed belongs to no client added later under its id."""

    async def revoke_grant(self, grant_id: str) -> None: ...

    async def not_removed_since(
        self, *, at: float, subject: str | None = None, client_id: str | None = None
    ) -> bool: ...


class StandingGrants(Protocol):
    """The standing grants read from the client definitions."""

    async def standing(self, client_id: str | None = None) -> list[Grant]: ...


class Events:
    """One audit event and one announcement per event. Every change of the loop is a decision of
    the security team, so its event is committed to the trail before the desk answers (AU-3)."""

    def __init__(self, audit: AuditLog, announcer: Announcer, clock: Clock, suspend_overdue: bool) -> None:
        self.audit = audit
        self._announcer = announcer
        self._clock = clock
        self._suspend_overdue = suspend_overdue

    async def of_request(self, event: str, request: AccessRequest, *, outcome: str, **fields: Any) -> None:
        await self.audit.durable(
            event.replace(".", "_"),
            outcome=outcome,
            request_id=request.request_id,
            client_id=request.client_id,
            scope=" ".join(request.granted_scopes or request.scopes),
            resource=request.resource,
            **fields,
        )
        await self._announcer.announce(event, request.public_view(self._clock.now()))

    async def of_grant(self, event: str, grant: Grant, **fields: Any) -> None:
        await self.audit.durable(
            event.replace(".", "_"),
            outcome=event.split(".")[1],
            grant_id=grant.grant_id,
            client_id=grant.client_id,
            scope=" ".join(grant.scopes),
            **fields,
        )
        await self._announcer.announce(event, grant.public_view(self._clock.now(), self._suspend_overdue))

    async def of_call(self, event: str, call: HeldCall, *, outcome: str, **fields: Any) -> None:
        """Every step of a held call is audited; announced are the steps webhooks can subscribe
        to (``call.pending``), without the arguments, which stay in the gateway."""
        await self.audit.durable(
            event.replace(".", "_"),
            outcome=outcome,
            call_id=call.call_id,
            tool=call.tool,
            server=call.server_id,
            client_id=call.client_id,
            subject=call.subject,
            fingerprint=call.fingerprint,
            **fields,
        )
        if event in EVENTS:
            await self._announcer.announce(
                event, call.public_view(self._clock.now(), arguments=False) | fields
            )
