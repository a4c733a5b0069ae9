"""The security team's approval loop: policy, grants, access requests, and the desks that decide.

    policy.py        per scope: auto, approval or never; longest duration; approver role; two-person
    grants.py        what a client may hold, as records (standing and approved)
    entitlements.py  what a grant path may issue now, and the instant the token must end by
    requests.py      access requests and their atomic decision steps
    decisions.py     the pure rules of deciding
    request_desk.py  filing, approving, denying
    grant_desk.py    reading, revoking, re-certifying grants; the clock's consequences
    held_calls.py    tool calls held for approval, their fingerprints and the atomic pass (AP-6)
    call_desk.py     holding, approving, denying and passing held calls
    events.py        one audit line and one announcement per change; the seams as Protocols

The loop imports nothing of the three roles: the authorization server, the MCP endpoint, the admin
API and the CLI import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import anyio

from gateway.approvals.call_desk import CallDesk
from gateway.approvals.entitlements import Entitlements
from gateway.approvals.events import Events, GrantMarks, StandingGrants
from gateway.approvals.grant_desk import GrantDesk
from gateway.approvals.grants import GrantBook
from gateway.approvals.held_calls import HeldCallBook
from gateway.approvals.policy import ApprovalPolicy
from gateway.approvals.request_desk import RequestDesk
from gateway.approvals.requests import AccessRequestBook
from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.store import Store
from gateway.webhooks import Announcer

SWEEP_INTERVAL = 30.0
"""Seconds between two passes of the clock's consequences (expiry, due reviews)."""


@dataclass(frozen=True)
class Approvals:
    policy: ApprovalPolicy
    entitlements: Entitlements
    grants: GrantDesk
    requests: RequestDesk
    calls: CallDesk
    """Tool calls held until someone approves them (AP-6)."""

    async def sweep(self) -> None:
        await self.requests.expire_overdue()
        await self.grants.sweep()
        await self.calls.sweep()

    async def run(self) -> None:
        """Sweep forever (under :class:`gateway.background.Supervisor`)."""
        while True:
            await self.sweep()
            await anyio.sleep(SWEEP_INTERVAL)


def build_approvals(
    *,
    store: Store,
    clock: Clock,
    audit: AuditLog,
    announcer: Announcer,
    marks: GrantMarks,
    standing: StandingGrants,
    policy: ApprovalPolicy,
    default_resource: str,
    known_resource: Callable[[str], bool],
    call_pages: str,
) -> Approvals:
    """``call_pages``: where a held call's approval page is, ``<call_pages>/<call id>``."""
    book = GrantBook(store)
    events = Events(audit, announcer, clock, policy.suspend_overdue)
    grants = GrantDesk(grants=book, standing=standing, policy=policy, marks=marks, events=events, clock=clock)
    requests = RequestDesk(
        requests=AccessRequestBook(store),
        grants=grants,
        policy=policy,
        events=events,
        clock=clock,
        default_resource=default_resource,
        known_resource=known_resource,
    )
    calls = CallDesk(book=HeldCallBook(store), policy=policy, events=events, clock=clock, page_url=call_pages)
    return Approvals(
        policy, Entitlements(book, clock, marks, policy.suspend_overdue), grants, requests, calls
    )
