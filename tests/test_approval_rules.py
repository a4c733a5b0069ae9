"""The approval loop's rules at the desks (AP-1 … AP-5), on the memory store and a frozen clock:
what a request may ask, who may decide it, what a decision grants, and what the clock does to
grants. The HTTP paths are in ``test_approval_loop.py``."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from gateway.approvals import Approvals, build_approvals
from gateway.approvals.decisions import Principal
from gateway.approvals.entitlements import entitle
from gateway.approvals.grants import Grant
from gateway.approvals.policy import PolicyError, policy_from_table
from gateway.approvals.request_desk import MAX_PENDING_PER_CLIENT
from gateway.audit import AuditLog
from gateway.clock import FrozenClock
from gateway.errors import Conflict, Forbidden, InvalidRequest, InvalidScope, InvalidTarget, RateLimited
from gateway.store.memory import MemoryStore

pytestmark = pytest.mark.anyio

MCP = "https://gw.example/mcp"
HOUR = 3600
ALICE = Principal("alice", ("security-admin",))
BOB = Principal("bob", ("security-admin",))
AUDITOR = Principal("audrey", ("auditor",))
AUTHOR = Principal("tom", ("tool-author",))
POLICY = {
    "rules": [
        {"scope": "weather", "decision": "auto", "max_duration": 24 * HOUR},
        {"scope": "payments", "approvers": 2, "max_duration": 8 * HOUR},
        {"scope": "root", "decision": "never"},
    ],
    "review_interval": 2 * HOUR,
}


class Heard:
    """An announcer that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Mapping[str, Any]]] = []

    async def announce(self, event: str, data: Mapping[str, Any]) -> None:
        self.events.append((event, data))

    def names(self) -> list[str]:
        return [event for event, _ in self.events]


class Marks:
    """The not-before marks, in memory: grants revoked, and clients removed at an instant."""

    def __init__(self) -> None:
        self.revoked: list[str] = []
        self.clients_removed: dict[str, float] = {}

    async def revoke_grant(self, grant_id: str) -> None:
        self.revoked.append(grant_id)

    async def not_removed_since(
        self, *, at: float, subject: str | None = None, client_id: str | None = None
    ) -> bool:
        return client_id is None or at > self.clients_removed.get(client_id, float("-inf"))


class NoStanding:
    async def standing(self, client_id: str | None = None) -> list[Grant]:
        return []


class Desks:
    def __init__(self, policy: Mapping[str, Any] = POLICY) -> None:
        self.clock = FrozenClock(time.time())
        self.heard = Heard()
        self.marks = Marks()
        self.approvals: Approvals = build_approvals(
            store=MemoryStore(self.clock),
            clock=self.clock,
            audit=AuditLog(),
            announcer=self.heard,
            marks=self.marks,
            standing=NoStanding(),
            policy=policy_from_table(policy),
            default_resource=MCP,
            known_resource=lambda resource: resource.startswith(MCP),
            call_pages="https://gw.example/admin/calls",
        )

    async def ask(self, scopes: tuple[str, ...], **extra: Any) -> str:
        request = await self.approvals.requests.file(
            client_id="agent", scopes=scopes, origin="agent", justification="nightly report", **extra
        )
        return request.request_id

    async def entitled(self, *scopes: str) -> tuple[str, ...]:
        found = await self.approvals.entitlements.entitle("agent", (), scopes, MCP)
        return found.scopes


@pytest.fixture
def desks() -> Desks:
    return Desks()


async def test_ap3_a_request_for_automatic_scopes_is_granted_at_once_by_policy(desks: Desks) -> None:
    request = await desks.approvals.requests.get(await desks.ask(("weather:get_forecast",)))
    assert request.status == "approved" and request.decided_by == ("policy",)
    assert await desks.entitled("weather:get_forecast") == ("weather:get_forecast",)
    assert desks.heard.names() == ["access.requested", "access.approved"]


async def test_ap3_scopes_policy_never_grants_are_refused_whole(desks: Desks) -> None:
    with pytest.raises(InvalidScope, match="never grants root"):
        await desks.ask(("tickets", "root:shell"))
    assert await desks.approvals.requests.list() == []


async def test_ap3_asking_again_while_pending_names_the_same_request(desks: Desks) -> None:
    first = await desks.ask(("tickets:write",))
    assert await desks.ask(("tickets:write",)) == first
    assert await desks.ask(("tickets:read",)) != first


async def test_ap3_requests_are_checked_before_anything_is_filed(desks: Desks) -> None:
    with pytest.raises(InvalidScope):
        await desks.ask(('bad"scope',))
    with pytest.raises(InvalidRequest, match="justification"):
        await desks.approvals.requests.file(client_id="agent", scopes=("tickets",), origin="agent")
    with pytest.raises(InvalidTarget):
        await desks.ask(("tickets",), resource="https://elsewhere.example/mcp")
    with pytest.raises(InvalidRequest, match="duration"):
        await desks.ask(("tickets",), duration=0)
    assert await desks.approvals.requests.list() == []


async def test_ap3_a_scope_already_held_is_not_asked_for(desks: Desks) -> None:
    await desks.ask(("weather",))  # granted automatically
    with pytest.raises(InvalidRequest, match="already holds"):
        await desks.ask(("weather:get_forecast",))


async def test_ap4_a_subset_for_a_shorter_time_grants_exactly_that(desks: Desks) -> None:
    request_id = await desks.ask(("tickets:read", "tickets:write"), duration=10 * HOUR)
    approved = await desks.approvals.requests.approve(
        request_id, ALICE, scopes=["tickets:read"], duration=HOUR
    )
    assert approved.status == "approved" and approved.granted_scopes == ("tickets:read",)
    grant = await desks.approvals.grants.get(str(approved.grant_id))
    assert grant.expires_at == desks.clock.now() + HOUR and grant.granted_by == ("alice",)
    assert await desks.entitled() == ("tickets:read",)
    with pytest.raises(InvalidScope):
        await desks.entitled("tickets:write")


async def test_ap4_an_approval_never_widens_the_request(desks: Desks) -> None:
    request_id = await desks.ask(("tickets:read",), duration=HOUR)
    with pytest.raises(InvalidScope):
        await desks.approvals.requests.approve(request_id, ALICE, scopes=["tickets"])
    with pytest.raises(InvalidRequest, match="duration"):
        await desks.approvals.requests.approve(request_id, ALICE, duration=2 * HOUR)
    with pytest.raises(InvalidRequest, match="resource"):
        await desks.approvals.requests.approve(request_id, ALICE, resource="https://gw.example/other")
    assert (await desks.approvals.requests.get(request_id)).status == "pending"


async def test_ap4_the_policy_caps_the_duration_whatever_was_asked(desks: Desks) -> None:
    request = await desks.approvals.requests.get(await desks.ask(("payments:refund",), duration=100 * HOUR))
    assert request.duration == 8 * HOUR and request.approvers_required == 2


async def test_ap4_no_one_decides_a_request_they_made(desks: Desks) -> None:
    request_id = await desks.ask(("tickets",), subject="alice")
    with pytest.raises(Forbidden, match="made"):
        await desks.approvals.requests.approve(request_id, ALICE)
    with pytest.raises(Forbidden, match="made"):
        await desks.approvals.requests.deny(request_id, ALICE, "no")
    agent_itself = Principal("agent", ("security-admin",))
    with pytest.raises(Forbidden):
        await desks.approvals.requests.approve(request_id, agent_itself)


async def test_ap4_only_the_approver_role_decides(desks: Desks) -> None:
    request_id = await desks.ask(("tickets",))
    for who in (AUDITOR, AUTHOR):
        with pytest.raises(Forbidden, match="security-admin"):
            await desks.approvals.requests.approve(request_id, who)
        with pytest.raises(Forbidden):
            await desks.approvals.requests.deny(request_id, who, "no")


async def test_ap4_two_people_must_approve_and_one_cannot_count_twice(desks: Desks) -> None:
    request_id = await desks.ask(("payments:refund",))
    first = await desks.approvals.requests.approve(request_id, ALICE)
    assert first.status == "pending" and [v.approver for v in first.votes] == ["alice"]
    with pytest.raises(Conflict, match="another person"):
        await desks.approvals.requests.approve(request_id, ALICE)
    assert await desks.approvals.grants.book.all() == []
    second = await desks.approvals.requests.approve(request_id, BOB, duration=HOUR)
    assert second.status == "approved" and second.decided_by == ("alice", "bob")
    grant = await desks.approvals.grants.get(str(second.grant_id))
    assert grant.expires_at == desks.clock.now() + HOUR  # the shortest of the two


async def test_ap4_of_two_concurrent_decisions_exactly_one_wins(desks: Desks) -> None:
    request_id = await desks.ask(("tickets",))
    outcomes: list[str] = []

    async def decide(how: str) -> None:
        try:
            if how == "approve":
                await desks.approvals.requests.approve(request_id, ALICE)
            else:
                await desks.approvals.requests.deny(request_id, BOB, "not now")
        except Conflict:
            outcomes.append("conflict")
        else:
            outcomes.append(how)

    async with anyio.create_task_group() as group:
        group.start_soon(decide, "approve")
        group.start_soon(decide, "deny")
    assert sorted(outcomes) in (["approve", "conflict"], ["conflict", "deny"])
    winner = "approved" if "approve" in outcomes else "denied"
    assert (await desks.approvals.requests.get(request_id)).status == winner
    assert len(await desks.approvals.grants.book.all()) == (1 if winner == "approved" else 0)


async def test_ap3_a_denial_carries_its_reason_and_grants_nothing(desks: Desks) -> None:
    request_id = await desks.ask(("tickets",))
    with pytest.raises(InvalidRequest, match="reason"):
        await desks.approvals.requests.deny(request_id, ALICE, "  ")
    denied = await desks.approvals.requests.deny(request_id, ALICE, "use the read-only scope")
    assert denied.status == "denied" and denied.reason == "use the read-only scope"
    with pytest.raises(Conflict):
        await desks.approvals.requests.approve(request_id, BOB)
    assert await desks.approvals.grants.book.all() == []
    assert desks.heard.names()[-1] == "access.denied"


async def test_ap5_a_pending_request_expires_after_the_policy_lifetime(desks: Desks) -> None:
    request_id = await desks.ask(("tickets",))
    desks.clock.advance(desks.approvals.policy.request_lifetime)
    assert (await desks.approvals.requests.get(request_id)).current_status(desks.clock.now()) == "expired"
    with pytest.raises(Conflict, match="expired"):
        await desks.approvals.requests.approve(request_id, ALICE)
    await desks.approvals.sweep()
    assert (await desks.approvals.requests.get(request_id)).status == "expired"


async def test_ap1_a_grant_allows_nothing_once_expired_and_its_end_is_announced_once(desks: Desks) -> None:
    request_id = await desks.ask(("tickets",), duration=HOUR)
    await desks.approvals.requests.approve(request_id, ALICE)
    assert await desks.entitled("tickets") == ("tickets",)
    desks.clock.advance(HOUR)
    with pytest.raises(InvalidScope):
        await desks.entitled("tickets")
    await desks.approvals.sweep()
    await desks.approvals.sweep()
    assert desks.heard.names().count("grant.expired") == 1


async def test_ap2_revoking_a_grant_moves_its_mark_and_needs_a_reason_and_the_role(desks: Desks) -> None:
    approved = await desks.approvals.requests.approve(await desks.ask(("tickets",)), ALICE)
    grant_id = str(approved.grant_id)
    with pytest.raises(Forbidden):
        await desks.approvals.grants.revoke(grant_id, AUDITOR, "leaving")
    with pytest.raises(InvalidRequest):
        await desks.approvals.grants.revoke(grant_id, BOB, "")
    revoked = await desks.approvals.grants.revoke(grant_id, BOB, "project over")
    assert revoked.revoked_by == "bob" and desks.marks.revoked == [grant_id]
    with pytest.raises(InvalidScope):
        await desks.entitled("tickets")
    with pytest.raises(Conflict):
        await desks.approvals.grants.revoke(grant_id, BOB, "again")
    assert desks.heard.names()[-1] == "grant.revoked"


async def test_ap5_an_overdue_grant_is_announced_and_suspended_until_reviewed() -> None:
    desks = Desks({**POLICY, "suspend_overdue": True})
    approved = await desks.approvals.requests.approve(
        await desks.ask(("tickets",), duration=10 * HOUR), ALICE
    )
    grant = await desks.approvals.grants.get(str(approved.grant_id))
    assert grant.review_by == desks.clock.now() + 2 * HOUR
    found = await desks.approvals.entitlements.entitle("agent", (), ("tickets",), MCP)
    assert found.not_after == grant.review_by  # AP-1: no token outlives the review date
    desks.clock.advance(2 * HOUR)
    await desks.approvals.sweep()
    assert desks.heard.names()[-1] == "review.due" and desks.marks.revoked == [grant.grant_id]
    with pytest.raises(InvalidScope):
        await desks.entitled("tickets")
    reviewed = await desks.approvals.grants.review(grant.grant_id, BOB, "still needed")
    assert reviewed.reviewed_by == "bob" and reviewed.review_by == desks.clock.now() + 2 * HOUR
    assert await desks.entitled("tickets") == ("tickets",)


async def test_ap5_without_suspension_an_overdue_grant_keeps_working_and_is_announced(desks: Desks) -> None:
    approved = await desks.approvals.requests.approve(
        await desks.ask(("tickets",), duration=10 * HOUR), ALICE
    )
    desks.clock.advance(3 * HOUR)
    await desks.approvals.sweep()
    assert "review.due" in desks.heard.names() and desks.marks.revoked == []
    assert await desks.entitled("tickets") == ("tickets",)
    assert (await desks.approvals.grants.get(str(approved.grant_id))).overdue(desks.clock.now())


def test_ap1_each_scope_rests_on_the_standing_scopes_or_the_longest_covering_grant() -> None:
    short = Grant("grt_s", "agent", ("tickets",), MCP, "approval", expires_at=200.0)
    long = Grant("grt_l", "agent", ("tickets:read",), MCP, "approval", expires_at=900.0)
    other = Grant("grt_o", "agent", ("mail",), "https://gw.example/other", "approval", expires_at=900.0)
    found = entitle(("tickets:read", "tickets:write"), ("weather",), [short, long, other], MCP, now=100.0)
    assert found.scopes == ("tickets:read", "tickets:write")
    assert found.grant_ids == ("grt_l", "grt_s") and found.not_after == 200.0
    assert found.claims() == {"grants": ["grt_l", "grt_s"]}
    assert entitle(("weather:x",), ("weather",), [short], MCP, now=100.0).grant_ids == ()
    with pytest.raises(InvalidScope):
        entitle(("mail",), (), [other], MCP, now=100.0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"rules": [{"scope": "a", "decision": "maybe"}]}, "decision"),
        ({"rules": [{"scope": "a", "approvers": 3}]}, "approvers"),
        ({"rules": [{"scope": "a"}, {"scope": "a"}]}, "two rules"),
        ({"rules": [{"scope": "a b"}]}, "scope token"),
        ({"rules": [{"scope": "a", "approver_role": "auditor"}]}, "approver_role"),
        ({"rules": [{"scope": "a", "max_duration": 0}]}, "max_duration"),
        ({"step_up": "yes"}, "step_up"),
        ({"colour": "blue"}, "unknown"),
    ],
)
def test_a_policy_the_gateway_cannot_apply_is_refused_at_start(table: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policy_from_table(table)


async def test_ap4_an_approval_naming_no_scope_grants_nothing_rather_than_everything(desks: Desks) -> None:
    request_id = await desks.ask(("tickets:read", "tickets:write"))
    with pytest.raises(InvalidScope):
        await desks.approvals.requests.approve(request_id, ALICE, scopes=[])
    assert (await desks.approvals.requests.get(request_id)).status == "pending"


async def test_ap4_a_refused_decision_is_in_the_audit_trail_with_who_tried(
    desks: Desks, caplog: pytest.LogCaptureFixture
) -> None:
    request_id = await desks.ask(("tickets",), subject="alice")
    with caplog.at_level("INFO", logger="mcp_gateway.audit"), pytest.raises(Forbidden):
        await desks.approvals.requests.approve(request_id, ALICE)
    refused = [
        json.loads(r.getMessage()) for r in caplog.records if "access_request_decision" in r.getMessage()
    ]
    assert refused == [
        {
            "event": "access_request_decision",
            "outcome": "refused",
            "action": "approve",
            "request_id": request_id,
            "by": "alice",
            "reason": "no one decides a request they made",
        }
    ]


async def test_ap3_one_client_cannot_flood_the_queue(desks: Desks) -> None:
    for n in range(MAX_PENDING_PER_CLIENT):
        await desks.ask((f"tickets:queue{n}",))
    with pytest.raises(RateLimited, match="waiting already"):
        await desks.ask(("tickets:one-more",))
    assert await desks.ask(("tickets:queue0",)), "asking again for a waiting request still names it"
    other = await desks.approvals.requests.file(
        client_id="another-agent", scopes=("tickets",), origin="agent", justification="mine"
    )
    assert other.status == "pending"


async def test_rv2_a_client_added_again_under_the_same_id_holds_none_of_the_grants_of_the_one_removed(
    desks: Desks,
) -> None:
    await desks.approvals.requests.approve(await desks.ask(("tickets",)), ALICE)
    assert await desks.entitled("tickets") == ("tickets",)
    desks.marks.clients_removed["agent"] = desks.clock.now()  # clients remove: the mark moves
    desks.clock.advance(1)
    with pytest.raises(InvalidScope):
        await desks.entitled("tickets")
    assert await desks.approvals.grants.held("agent") == ()
    assert await desks.ask(("tickets",)), "the new client may ask for it like anyone"


async def test_rv2_a_request_whose_client_was_removed_since_cannot_be_approved(desks: Desks) -> None:
    request_id = await desks.ask(("tickets",))
    desks.marks.clients_removed["agent"] = desks.clock.now()
    desks.clock.advance(1)
    with pytest.raises(Conflict, match="removed since"):
        await desks.approvals.requests.approve(request_id, ALICE)
    assert await desks.approvals.grants.book.all() == []
