"""The grants side of the security team's desk: read, revoke, re-certify, and the clock's
consequences (expiry, due reviews, suspension). The CLI, the admin API and the console call these
methods and nothing else, so every way in obeys the same rules.
"""

from __future__ import annotations

from typing import Any

from gateway.approvals.decisions import MAX_NOTE, Principal, checked_text
from gateway.approvals.entitlements import active_grants
from gateway.approvals.events import Events, GrantMarks, StandingGrants
from gateway.approvals.grants import STANDING_PREFIX, Grant, GrantBook
from gateway.approvals.policy import ApprovalPolicy
from gateway.clock import Clock
from gateway.errors import Conflict, Forbidden, NotFound

SECURITY_ADMIN = "security-admin"


def require_role(by: Principal, role: str) -> None:
    if not by.holds(role):
        raise Forbidden(f"this needs the {role} role")


class GrantDesk:
    def __init__(
        self,
        *,
        grants: GrantBook,
        standing: StandingGrants,
        policy: ApprovalPolicy,
        marks: GrantMarks,
        events: Events,
        clock: Clock,
    ) -> None:
        self.book = grants
        self._standing = standing
        self._policy = policy
        self._marks = marks
        self._events = events
        self._clock = clock

    # -- reading ------------------------------------------------------------------------------
    async def get(self, grant_id: str) -> Grant:
        if grant_id.startswith(STANDING_PREFIX):
            found = await self._standing.standing(grant_id.removeprefix(STANDING_PREFIX))
        else:
            approved = await self.book.get(grant_id)
            found = [approved] if approved is not None else []
        if not found:
            raise NotFound("no such grant")
        return found[0]

    async def list(self, client_id: str | None = None) -> list[Grant]:
        """Standing grants first, then approved grants, oldest first."""
        approved = await self.book.all()
        return [
            *await self._standing.standing(client_id),
            *(g for g in approved if client_id is None or g.client_id == client_id),
        ]

    async def held(self, client_id: str, resource: str | None = None) -> tuple[str, ...]:
        """Every scope the client may be issued now (for ``resource``, or anywhere): what
        :class:`~gateway.approvals.entitlements.Entitlements` would allow, never a grant of a
        client removed before this one was added under its id (RV-2)."""
        grants = [
            grant
            for grant in await self.list(client_id)
            if grant.standing or await self._marks.not_removed_since(at=grant.created_at, client_id=client_id)
        ]
        active = active_grants(grants, resource, self._clock.now(), self._policy.suspend_overdue)
        return tuple(dict.fromkeys(scope for grant in active for scope in grant.scopes))

    async def asker_removed_since(self, client_id: str, subject: str | None, at: float) -> bool:
        """Whether the client (or the person) that asked at ``at`` was removed since (RV-2)."""
        return not await self._marks.not_removed_since(at=at, subject=subject, client_id=client_id)

    # -- changing -----------------------------------------------------------------------------
    async def revoke(self, grant_id: str, by: Principal, reason: str) -> Grant:
        """AP-2: the grant ends now, and every live token that carries it with it."""
        require_role(by, SECURITY_ADMIN)
        grant = await self._approved(grant_id)
        if grant.revoked_at is not None:
            raise Conflict("the grant is revoked already")
        text = checked_text(reason, "reason", MAX_NOTE, required=True)
        revoked = await self.book.save(
            grant, revoked_at=self._clock.now(), revoked_by=by.subject, revoke_reason=text
        )
        await self._marks.revoke_grant(grant_id)
        await self._events.of_grant(
            "grant.revoked",
            revoked,
            by=by.subject,
            reason=text,
            before={"revoked_at": None, "expires_at": grant.expires_at},
            after={"revoked_at": revoked.revoked_at, "expires_at": revoked.expires_at},
        )
        return revoked

    async def review(self, grant_id: str, by: Principal, note: str = "") -> Grant:
        """Re-certification (AP-5): the next review date moves on, and a suspension ends."""
        require_role(by, SECURITY_ADMIN)
        grant = await self._approved(grant_id)
        now = self._clock.now()
        status = grant.status(now, suspend_overdue=False)
        if status in ("revoked", "expired"):
            raise Conflict(f"the grant is {status}; it cannot be reviewed")
        text = checked_text(note, "note", MAX_NOTE)
        reviewed = await self.book.save(
            grant,
            review_by=self.next_review(now, grant.expires_at),
            reviewed_at=now,
            reviewed_by=by.subject,
            review_note=text,
            suspended_at=None,
            announced=tuple(event for event in grant.announced if event != "review.due"),
        )
        await self._events.audit.durable(
            "grant_reviewed",
            outcome="recertified",
            grant_id=grant_id,
            by=by.subject,
            note=text,
            before=_review_state(grant),
            after=_review_state(reviewed),
        )
        return reviewed

    def next_review(self, now: float, expires_at: float | None) -> float | None:
        """The review date of a grant looked at ``now``; none when it expires first."""
        review_by = now + self._policy.review_interval
        return None if expires_at is not None and review_by >= expires_at else review_by

    async def sweep(self) -> None:
        """The clock's consequences, each announced once: expired grants, due reviews, and (when
        policy says so) the suspension of overdue grants."""
        now = self._clock.now()
        for grant in await self.book.all():
            if grant.revoked_at is not None:
                continue
            if grant.status(now, False) == "expired" and "grant.expired" not in grant.announced:
                expired = await self.book.save(grant, announced=(*grant.announced, "grant.expired"))
                await self._events.of_grant("grant.expired", expired)
            elif grant.overdue(now) and "review.due" not in grant.announced:
                changes: dict[str, Any] = {"announced": (*grant.announced, "review.due")}
                if self._policy.suspend_overdue:
                    changes["suspended_at"] = now
                due = await self.book.save(grant, **changes)
                if self._policy.suspend_overdue:
                    await self._marks.revoke_grant(grant.grant_id)
                await self._events.of_grant("review.due", due)

    async def _approved(self, grant_id: str) -> Grant:
        grant = await self.get(grant_id)
        if grant.standing:
            raise Conflict(
                "a standing grant is the client's own definition: change the client's scopes "
                "(or the configuration file), or remove the client"
            )
        return grant


def _review_state(grant: Grant) -> dict[str, Any]:
    """What a re-certification changes, as its audit event shows it before and after (AU-7)."""
    return {
        "reviewed_at": grant.reviewed_at,
        "review_by": grant.review_by,
        "suspended_at": grant.suspended_at,
    }
