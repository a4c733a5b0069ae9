"""The requests side of the security team's desk: an agent (or the gateway for it) files, approvers
decide. The CLI, the admin API, the console and the agent-facing endpoint call these methods and
nothing else.

A request every scope of which policy grants automatically is approved at once, by ``policy``; a
request naming a scope policy never grants is refused whole (``invalid_scope``), so the agent can
ask again without it; otherwise the request waits for the approvers its strictest scope needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from gateway.approvals.decisions import (
    MAX_JUSTIFICATION,
    MAX_NOTE,
    Principal,
    approved_terms,
    check_approver,
    checked_scopes,
    checked_text,
    combined,
    split_by_decision,
    terms_of,
)
from gateway.approvals.events import Events
from gateway.approvals.grant_desk import GrantDesk
from gateway.approvals.grants import Grant, new_grant_id
from gateway.approvals.policy import ApprovalPolicy
from gateway.approvals.requests import AccessRequest, AccessRequestBook, Origin, Vote, new_request_id
from gateway.clock import Clock
from gateway.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    NotFound,
    RateLimited,
)
from tools_registry.scopes import covers

MAX_PENDING_PER_CLIENT = 20
"""Requests one client may have waiting at once (AP-3)."""
KEEP_DECISIONS = 30 * 24 * 3600
"""Seconds the decision keys of a request outlive its deadline."""


class RequestDesk:
    def __init__(
        self,
        *,
        requests: AccessRequestBook,
        grants: GrantDesk,
        policy: ApprovalPolicy,
        events: Events,
        clock: Clock,
        default_resource: str,
        known_resource: Callable[[str], bool],
    ) -> None:
        self.book = requests
        self._grants = grants
        self.policy = policy
        self._events = events
        self._clock = clock
        self.default_resource = default_resource
        self._known_resource = known_resource

    async def get(self, request_id: str) -> AccessRequest:
        request = await self.book.get(request_id)
        if request is None:
            raise NotFound("no such access request")
        return request

    async def list(self, status: str | None = None) -> list[AccessRequest]:
        now = self._clock.now()
        return [r for r in await self.book.all() if status is None or r.current_status(now) == status]

    # -- filing -------------------------------------------------------------------------------
    async def file(
        self,
        *,
        client_id: str,
        scopes: Sequence[str],
        origin: Origin,
        justification: str = "",
        resource: str | None = None,
        duration: int | None = None,
        subject: str | None = None,
    ) -> AccessRequest:
        """A new pending request (or the same one still pending); auto-granted at once when policy
        grants every scope automatically. Scopes policy never grants are ``invalid_scope``."""
        now = self._clock.now()
        wanted = checked_scopes(scopes)
        reason = checked_text(justification, "justification", MAX_JUSTIFICATION, required=origin == "agent")
        target = resource or self.default_resource
        if not self._known_resource(target):
            raise InvalidTarget("the resource is not one this gateway issues tokens for")
        if duration is not None and (isinstance(duration, bool) or duration <= 0):
            raise InvalidRequest("duration must be a positive number of seconds")
        held = await self._grants.held(client_id, target)
        wanted = tuple(scope for scope in wanted if not covers(held, scope))
        if not wanted:
            raise InvalidRequest("the client already holds every scope it asks for")
        never = split_by_decision(self.policy, wanted)["never"]
        if never:
            raise InvalidScope(f"policy never grants {' '.join(never)}; ask without it")
        waiting = [r for r in await self.list("pending") if r.client_id == client_id]
        for pending in waiting:
            if (pending.subject, pending.resource, pending.scopes) == (subject, target, wanted):
                return pending
        if len(waiting) >= MAX_PENDING_PER_CLIENT:  # a client cannot flood the queue
            raise RateLimited(
                f"this client has {len(waiting)} requests waiting already; wait for a decision",
                retry_after=self.policy.poll_interval,
            )
        approvers, role, length = terms_of(self.policy, wanted, duration or 10**9)
        request = await self.book.save(
            AccessRequest(
                request_id=new_request_id(),
                client_id=client_id,
                scopes=wanted,
                resource=target,
                justification=reason,
                duration=length,
                origin=origin,
                created_at=now,
                expires_at=now + self.policy.request_lifetime,
                subject=subject,
                approvers_required=approvers,
                approver_role=role,
            )
        )
        await self._events.of_request("access.requested", request, outcome="filed")
        if all(self.policy.rule_for(scope).decision == "auto" for scope in wanted):
            policy_vote = Vote("policy", now, wanted, target, length, "granted automatically by policy")
            return await self._settle_approved(request, (policy_vote,), source="policy")
        return request

    # -- deciding -----------------------------------------------------------------------------
    async def approve(
        self,
        request_id: str,
        by: Principal,
        *,
        scopes: Sequence[str] | None = None,
        resource: str | None = None,
        duration: int | None = None,
        note: str = "",
    ) -> AccessRequest:
        """One approval (AP-3, AP-4); the grant is made when the last approver the policy needs
        has approved, on the terms all of them agreed to."""
        request = await self.get(request_id)
        now = self._clock.now()
        self._check_decider(request, by, now, "approve", voting=True)
        if await self._grants.asker_removed_since(request.client_id, request.subject, request.created_at):
            raise Conflict("the client or person that asked was removed since: the request went with them")
        terms = approved_terms(request, scopes, resource, duration)
        vote = Vote(by.subject, now, *terms, checked_text(note, "note", MAX_NOTE))
        votes = await self.book.vote(request, vote, self._keep_for(request))
        distinct = tuple({v.approver: v for v in reversed(votes)}.values())[::-1]
        if len(distinct) < request.approvers_required:
            await self._events.audit.durable(
                "access_request_approval", outcome="recorded", request_id=request_id, by=by.subject
            )
            return replace(request, votes=distinct)  # the record itself changes only when settled
        return await self._settle_approved(request, distinct, source="approval")

    async def deny(self, request_id: str, by: Principal, reason: str) -> AccessRequest:
        request = await self.get(request_id)
        now = self._clock.now()
        text = checked_text(reason, "reason", MAX_NOTE, required=True)
        self._check_decider(request, by, now, "deny", voting=False)
        if not await self.book.settle(request, "denied", self._keep_for(request)):
            raise Conflict("another decision on this request came first")
        denied = await self.book.save(
            request, status="denied", decided_at=now, decided_by=(by.subject,), reason=text
        )
        await self._events.of_request(
            "access.denied",
            denied,
            outcome="denied",
            by=by.subject,
            before={"status": request.status},
            after={"status": denied.status},
        )
        return denied

    async def _settle_approved(
        self, request: AccessRequest, votes: Sequence[Vote], *, source: str
    ) -> AccessRequest:
        now = self._clock.now()
        scopes, resource, length = combined(votes)
        if not scopes:
            raise Conflict("the approvals share no scope; approve the same scopes")
        if not await self.book.settle(request, "approved", self._keep_for(request)):
            raise Conflict("another decision on this request came first")
        grant = await self._grants.book.add(
            Grant(
                grant_id=new_grant_id(),
                client_id=request.client_id,
                scopes=scopes,
                resource=resource,
                source="policy" if source == "policy" else "approval",
                granted_by=tuple(v.approver for v in votes),
                reason=request.justification,
                created_at=now,
                expires_at=now + length,
                review_by=self._grants.next_review(now, now + length),
                request_id=request.request_id,
            )
        )
        approved = await self.book.save(
            request,
            status="approved",
            votes=tuple(votes),
            decided_at=now,
            decided_by=grant.granted_by,
            grant_id=grant.grant_id,
            granted_scopes=scopes,
            granted_resource=resource,
            granted_until=grant.expires_at,
            reason="; ".join(v.note for v in votes if v.note),
        )
        await self._events.of_request(
            "access.approved",
            approved,
            outcome="approved",
            by=",".join(grant.granted_by),
            before={"status": request.status},
            after={"status": approved.status, "grant_id": grant.grant_id, "scope": " ".join(scopes)},
        )
        return approved

    async def expire_overdue(self) -> None:
        """Pending requests past their deadline become ``expired`` (once, whoever sweeps)."""
        now = self._clock.now()
        for request in await self.book.all():
            if request.status != "pending" or request.current_status(now) != "expired":
                continue
            if await self.book.settle(request, "expired", self._keep_for(request)):
                expired = await self.book.save(request, status="expired", decided_at=now)
                self._events.audit.record(
                    "access_request_expired", outcome="expired", request_id=expired.request_id
                )

    def _check_decider(
        self, request: AccessRequest, by: Principal, now: float, action: str, *, voting: bool
    ) -> None:
        """AP-4, and a refusal is an audit event too: the security team sees who tried."""
        try:
            check_approver(request, by, now, voting=voting)
        except (Forbidden, Conflict) as exc:
            self._events.audit.record(
                "access_request_decision",
                outcome="refused",
                action=action,
                request_id=request.request_id,
                by=by.subject,
                reason=exc.description,
            )
            raise

    def _keep_for(self, request: AccessRequest) -> float:
        return max(1.0, request.expires_at - self._clock.now()) + KEEP_DECISIONS
