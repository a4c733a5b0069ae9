"""The held-calls side of the desk (AP-6): the MCP endpoint holds a call here and asks whether an
identical one was approved; approvers list, read, approve and deny. The admin API, the CLI and the
console call these methods and nothing else, so every way in obeys the same rules.

Who decides a held call (:func:`check_decider`):

* policy ``call_approver = "security-admin"`` (the default): anyone holding that role, except the
  person the call was made for;
* ``call_approver = "person"``: only the person the agent acts for approves (a ``security-admin``
  may still deny: stopping a call is always safe); a call made for nobody (an agent acting on its
  own) falls back to a ``security-admin``;
* never the agent: neither the client that made the call nor an actor before it, whether it names
  itself as the decider or decides through its own token (``via``).
"""

from __future__ import annotations

from gateway.approvals.decisions import MAX_NOTE, Principal, checked_text
from gateway.approvals.events import Events
from gateway.approvals.held_calls import (
    CALL_WINDOW,
    CallFacts,
    HeldBecause,
    HeldCall,
    HeldCallBook,
)
from gateway.approvals.policy import ApprovalPolicy
from gateway.clock import Clock
from gateway.errors import Conflict, Forbidden, NotFound

SECURITY_ADMIN = "security-admin"
KEEP_CALLS = 30 * 24 * 3600
"""Seconds a finished held call (and its decision key) is kept after its window."""
FILING_ATTEMPTS = 3


def check_decider(call: HeldCall, by: Principal, via: str | None, now: float, *, approving: bool) -> None:
    """AP-6: the call is still pending, and ``by`` (acting through client ``via``, None for the CLI
    or the console) may decide it."""
    status = call.current_status(now)
    if status != "pending":
        raise Conflict(f"the call is {status}, not pending")
    agents = call.agents()
    if by.subject in agents or (via is not None and via in agents):
        raise Forbidden("the agent that made a call never decides it")
    if call.approver == "person":
        if by.subject == call.person or (not approving and by.holds(SECURITY_ADMIN)):
            return
        raise Forbidden(f"only {call.person}, for whom the agent made the call, may approve it")
    if not by.holds(SECURITY_ADMIN):
        raise Forbidden(f"deciding this call needs the {SECURITY_ADMIN} role")
    if by.subject == call.person:
        raise Forbidden("no one decides a call made for them")


class CallDesk:
    def __init__(
        self,
        *,
        book: HeldCallBook,
        policy: ApprovalPolicy,
        events: Events,
        clock: Clock,
        page_url: str,
    ) -> None:
        self.book = book
        self.policy = policy
        self._events = events
        self._clock = clock
        self._page_url = page_url.rstrip("/")

    def page_of(self, call_id: str) -> str:
        """The approval page of a held call (``<public URL>/admin/calls/<id>``)."""
        return f"{self._page_url}/{call_id}"

    # -- reading ------------------------------------------------------------------------------
    async def get(self, call_id: str) -> HeldCall:
        call = await self.book.get(call_id)
        if call is None:
            raise NotFound("no such held call")
        return call

    async def list(self, status: str | None = None) -> list[HeldCall]:
        now = self._clock.now()
        return [c for c in await self.book.all() if status is None or c.current_status(now) == status]

    # -- the MCP endpoint's side --------------------------------------------------------------
    async def hold(self, facts: CallFacts, held_because: HeldBecause) -> HeldCall:
        """The held call that answers ``facts``: the same call still pending (or denied, within its
        window), else a new pending one, announced (``call.pending``)."""
        for _ in range(FILING_ATTEMPTS):
            now = self._clock.now()
            latest = await self.book.latest(facts.fingerprint)
            if latest is not None and _still_answers(latest, now):
                return latest
            call = await self.book.save(HeldCall.of(facts, held_because, self.policy.call_approver, now))
            if await self.book.make_latest(call, latest, CALL_WINDOW + KEEP_CALLS):
                await self._events.of_call(
                    "call.pending", call, outcome="held", approve_url=self.page_of(call.call_id)
                )
                return call
            await self.book.forget(call.call_id)  # an identical call was filed at the same moment
        raise Conflict("identical calls keep arriving at once; try again")

    async def pass_approved(self, facts: CallFacts) -> HeldCall | None:
        """The approved call ``facts`` makes, now used; None when no approval is waiting for it.
        Of identical calls made at once, one gets it."""
        call_id = await self.book.take_pass(facts.fingerprint)
        if call_id is None:
            return None
        call, now = await self.book.get(call_id), self._clock.now()
        if call is None or call.fingerprint != facts.fingerprint or call.current_status(now) != "approved":
            return None
        used = await self.book.save(call, status="used", used_at=now)
        await self._events.of_call("call.passed", used, outcome="used")
        return used

    async def asked_for_input(self, call: HeldCall, request_state: str) -> None:
        """The upstream answered the approved call with an ``InputRequiredResult``: its retry
        carrying that ``request_state`` belongs to the same call and passes once."""
        await self.book.open_round(call.fingerprint, request_state, call.call_id, CALL_WINDOW)

    async def pass_round(self, facts: CallFacts, request_state: str) -> HeldCall | None:
        """The approved call ``facts`` continues (a retry with the state its upstream sent); None
        when this state was not sent for it, or was used already."""
        call_id = await self.book.take_round(facts.fingerprint, request_state)
        call = await self.book.get(call_id) if call_id is not None else None
        if call is None or call.fingerprint != facts.fingerprint:
            return None
        await self._events.of_call("call.passed", call, outcome="next_round")
        return call

    # -- deciding -----------------------------------------------------------------------------
    async def approve(
        self, call_id: str, by: Principal, *, via: str | None = None, note: str = ""
    ) -> HeldCall:
        """AP-6: the call, exactly as held, may now be made once within :data:`CALL_WINDOW`."""
        call, now = await self.get(call_id), self._clock.now()
        check_decider(call, by, via, now, approving=True)
        text = checked_text(note, "note", MAX_NOTE)
        if not await self.book.settle(call, "approved", CALL_WINDOW + KEEP_CALLS):
            raise Conflict("another decision on this call came first")
        approved = await self.book.save(
            call,
            status="approved",
            decided_at=now,
            decided_by=by.subject,
            reason=text,
            expires_at=now + CALL_WINDOW,
        )
        await self.book.open_pass(approved, CALL_WINDOW)
        await self._events.of_call(
            "call.approved",
            approved,
            outcome="approved",
            by=by.subject,
            before={"status": call.status, "expires_at": call.expires_at},
            after={"status": approved.status, "expires_at": approved.expires_at},
        )
        return approved

    async def deny(self, call_id: str, by: Principal, reason: str, *, via: str | None = None) -> HeldCall:
        call, now = await self.get(call_id), self._clock.now()
        text = checked_text(reason, "reason", MAX_NOTE, required=True)
        check_decider(call, by, via, now, approving=False)
        if not await self.book.settle(call, "denied", CALL_WINDOW + KEEP_CALLS):
            raise Conflict("another decision on this call came first")
        denied = await self.book.save(
            call, status="denied", decided_at=now, decided_by=by.subject, reason=text
        )
        await self._events.of_call(
            "call.denied",
            denied,
            outcome="denied",
            by=by.subject,
            reason=text,
            before={"status": call.status},
            after={"status": denied.status},
        )
        return denied

    # -- the clock's consequences -------------------------------------------------------------
    async def sweep(self) -> None:
        """Calls past their window become ``expired`` (once, whoever sweeps); calls finished long
        ago are forgotten (their audit lines remain)."""
        now = self._clock.now()
        for call in await self.book.all():
            if call.status == "pending" and now >= call.expires_at:
                if await self.book.settle(call, "expired", KEEP_CALLS):
                    await self._events.of_call("call.expired", await self._expired(call), outcome="expired")
            elif call.status == "approved" and now >= call.expires_at:
                await self._events.of_call("call.expired", await self._expired(call), outcome="unused")
            elif now >= call.expires_at + KEEP_CALLS:
                await self.book.forget(call.call_id)

    async def _expired(self, call: HeldCall) -> HeldCall:
        return await self.book.save(call, status="expired")


def _still_answers(call: HeldCall, now: float) -> bool:
    """Whether an identical new call is answered by ``call``: while it waits for a decision, and
    while a denial stands (its window). An approved call whose one pass is gone answers nothing."""
    return call.current_status(now) in ("pending", "denied") and now < call.expires_at
