"""The held-calls desk on its own (rule book AP-6): fingerprints, the one pass, who decides, the
window, and what is announced. A memory store on a frozen clock; no HTTP.

The MCP endpoint's side of the same rule, with real agents and upstreams, is
``tests/test_call_approval.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import pytest

from gateway.approvals.call_desk import CallDesk
from gateway.approvals.decisions import Principal
from gateway.approvals.events import Events
from gateway.approvals.held_calls import (
    CALL_WINDOW,
    MAX_ARGUMENTS,
    CallFacts,
    HeldCallBook,
    canonical_arguments,
)
from gateway.approvals.policy import ApprovalPolicy, PolicyError, policy_from_table
from gateway.audit import AuditLog
from gateway.clock import FrozenClock
from gateway.errors import Conflict, Forbidden, InvalidRequest
from gateway.store.memory import MemoryStore

pytestmark = pytest.mark.anyio

PAGES = "https://gw.test/admin/calls"
ADMIN = Principal("sec-ops", ("security-admin",))
AUDITOR = Principal("reader", ("auditor",))
CALL = CallFacts(
    tool="files__delete_file",
    server_id="files",
    upstream_name="delete_file",
    arguments=canonical_arguments({"path": "/srv/report.pdf"}),
    client_id="desk-assistant",
    subject="alice",
    actor_chain=(),
)
ON_ITS_OWN = replace(CALL, client_id="batch-agent", subject="batch-agent")


@dataclass
class Heard:
    """An announcer that keeps what it was told."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def announce(self, event: str, data: Mapping[str, Any]) -> None:
        self.events.append((event, dict(data)))


@dataclass
class Desk:
    desk: CallDesk
    clock: FrozenClock
    heard: Heard


def desk_with(policy: ApprovalPolicy | None = None) -> Desk:
    clock = FrozenClock(1_800_000_000.0)
    heard = Heard()
    policy = policy or ApprovalPolicy()
    events = Events(AuditLog(), heard, clock, suspend_overdue=False)
    desk = CallDesk(
        book=HeldCallBook(MemoryStore(clock)), policy=policy, events=events, clock=clock, page_url=PAGES
    )
    return Desk(desk, clock, heard)


@pytest.fixture
def world() -> Desk:
    return desk_with()


@pytest.fixture
def person_approves() -> Desk:
    return desk_with(policy_from_table({"call_approver": "person"}))


async def test_ap6_an_approved_call_passes_once_and_the_next_identical_call_is_held_again(
    world: Desk,
) -> None:
    desk = world.desk
    assert await desk.pass_approved(CALL) is None
    held = await desk.hold(CALL, "registration")
    assert (await desk.hold(CALL, "registration")).call_id == held.call_id, "asking again names the same call"
    approved = await desk.approve(held.call_id, ADMIN, note="expected clean-up")
    assert approved.status == "approved" and approved.decided_by == "sec-ops"

    used = await desk.pass_approved(CALL)
    assert used is not None and used.call_id == held.call_id and used.status == "used"
    assert await desk.pass_approved(CALL) is None, "one approval, one pass"
    again = await desk.hold(CALL, "registration")
    assert again.call_id != held.call_id and again.status == "pending"


@pytest.mark.parametrize(
    "other",
    [
        replace(CALL, arguments=canonical_arguments({"path": "/srv/payroll.xlsx"})),
        replace(CALL, arguments=canonical_arguments({"path": "/srv/report.pdf", "force": True})),
        replace(CALL, client_id="another-agent"),
        replace(CALL, subject="bob"),
        replace(CALL, actor_chain=("orchestrator",)),
        replace(CALL, tool="files__wipe", upstream_name="wipe"),
    ],
)
async def test_ap6_an_approval_is_for_one_call_its_arguments_caller_and_tool(
    world: Desk, other: CallFacts
) -> None:
    held = await world.desk.hold(CALL, "registration")
    await world.desk.approve(held.call_id, ADMIN)
    assert other.fingerprint != CALL.fingerprint
    assert await world.desk.pass_approved(other) is None
    assert (await world.desk.hold(other, "registration")).call_id != held.call_id
    assert await world.desk.pass_approved(CALL) is not None, "the approved call still passes"


def test_ap6_the_fingerprint_reads_the_arguments_as_canonical_json() -> None:
    reordered = replace(CALL, arguments=canonical_arguments(json.loads('{"path": "/srv/report.pdf"}')))
    assert reordered.fingerprint == CALL.fingerprint
    assert canonical_arguments({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    with pytest.raises(ValueError, match="plain JSON"):
        canonical_arguments({"x": float("nan")})
    with pytest.raises(ValueError, match=f"at most {MAX_ARGUMENTS}"):
        canonical_arguments({"x": "a" * MAX_ARGUMENTS})


async def test_ap6_of_two_identical_calls_made_at_once_after_one_approval_exactly_one_passes(
    world: Desk,
) -> None:
    held = await world.desk.hold(CALL, "registration")
    await world.desk.approve(held.call_id, ADMIN)
    passed: list[object] = []

    async def call() -> None:
        passed.append(await world.desk.pass_approved(CALL))

    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(call)
    assert len([p for p in passed if p is not None]) == 1


async def test_ap6_identical_calls_held_at_once_make_one_held_call(world: Desk) -> None:
    ids: list[str] = []

    async def hold() -> None:
        ids.append((await world.desk.hold(CALL, "registration")).call_id)

    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(hold)
    assert len(set(ids)) == 1
    assert len(await world.desk.list("pending")) == 1


async def test_ap6_a_denied_call_stays_refused_with_its_reason_for_its_window(world: Desk) -> None:
    held = await world.desk.hold(CALL, "registration")
    with pytest.raises(InvalidRequest, match="reason"):
        await world.desk.deny(held.call_id, ADMIN, "  ")
    denied = await world.desk.deny(held.call_id, ADMIN, "that report is still needed")
    assert (denied.status, denied.reason) == ("denied", "that report is still needed")
    assert await world.desk.pass_approved(CALL) is None
    assert (await world.desk.hold(CALL, "registration")).call_id == held.call_id, "the denial answers"
    world.clock.advance(CALL_WINDOW)
    assert (await world.desk.hold(CALL, "registration")).status == "pending", "then it may be asked again"


async def test_ap6_a_held_call_expires_when_nobody_decides_within_its_window(world: Desk) -> None:
    held = await world.desk.hold(CALL, "registration")
    world.clock.advance(CALL_WINDOW - 1)
    assert [c.call_id for c in await world.desk.list("pending")] == [held.call_id]
    world.clock.advance(1)
    assert [c.call_id for c in await world.desk.list("expired")] == [held.call_id]
    with pytest.raises(Conflict, match="expired"):
        await world.desk.approve(held.call_id, ADMIN)
    assert (await world.desk.hold(CALL, "registration")).call_id != held.call_id
    await world.desk.sweep()
    assert (await world.desk.get(held.call_id)).status == "expired"


async def test_ap6_an_approved_call_not_made_within_the_window_after_the_approval_expires(
    world: Desk,
) -> None:
    held = await world.desk.hold(CALL, "registration")
    world.clock.advance(CALL_WINDOW - 10)
    approved = await world.desk.approve(held.call_id, ADMIN)
    assert approved.expires_at == world.clock.now() + CALL_WINDOW, "the window starts again at the approval"
    world.clock.advance(CALL_WINDOW)
    assert await world.desk.pass_approved(CALL) is None
    await world.desk.sweep()
    assert (await world.desk.get(held.call_id)).status == "expired"


async def test_ap6_a_decision_is_taken_once(world: Desk) -> None:
    held = await world.desk.hold(CALL, "registration")
    other_admin = Principal("sec-ops-2", ("security-admin",))
    results = []

    async def decide(decision: Any) -> None:
        try:
            results.append((await decision).status)
        except Conflict:
            results.append("conflict")

    async with anyio.create_task_group() as group:
        group.start_soon(decide, world.desk.approve(held.call_id, ADMIN))
        group.start_soon(decide, world.desk.deny(held.call_id, other_admin, "no"))
    assert sorted(results) in (["approved", "conflict"], ["conflict", "denied"])


@pytest.mark.parametrize(
    ("by", "via", "refusal"),
    [
        (Principal("desk-assistant", ("security-admin",)), None, "agent that made a call"),
        (ADMIN, "desk-assistant", "agent that made a call"),
        (Principal("alice", ("security-admin",)), None, "made for them"),
        (AUDITOR, None, "security-admin role"),
        (Principal("tool-author", ("tool-author",)), None, "security-admin role"),
    ],
)
async def test_ap6_no_one_decides_a_call_their_agent_made_or_that_was_made_for_them(
    world: Desk, by: Principal, via: str | None, refusal: str
) -> None:
    held = await world.desk.hold(CALL, "registration")
    with pytest.raises(Forbidden, match=refusal):
        await world.desk.approve(held.call_id, by, via=via)
    with pytest.raises(Forbidden, match=refusal):
        await world.desk.deny(held.call_id, by, "no", via=via)
    assert (await world.desk.get(held.call_id)).status == "pending"


async def test_ap6_no_actor_in_the_chain_decides_the_call(world: Desk) -> None:
    delegated = replace(CALL, client_id="orchestrator", actor_chain=("orchestrator", "desk-assistant"))
    held = await world.desk.hold(delegated, "registration")
    for agent in ("orchestrator", "desk-assistant"):
        with pytest.raises(Forbidden, match="agent that made a call"):
            await world.desk.approve(held.call_id, Principal(agent, ("security-admin",)))
    assert (await world.desk.approve(held.call_id, ADMIN)).status == "approved"


async def test_ap6_when_policy_makes_the_person_the_approver_only_that_person_approves(
    person_approves: Desk,
) -> None:
    desk = person_approves.desk
    held = await desk.hold(CALL, "registration")
    assert (held.approver, held.person) == ("person", "alice")
    for by, via in ((ADMIN, None), (Principal("bob", ()), None), (Principal("alice", ()), "desk-assistant")):
        with pytest.raises(Forbidden):
            await desk.approve(held.call_id, by, via=via)
    approved = await desk.approve(held.call_id, Principal("alice", ()), via="alices-console")
    assert approved.decided_by == "alice"
    assert await desk.pass_approved(CALL) is not None


async def test_ap6_when_the_person_approves_a_security_admin_may_still_deny(person_approves: Desk) -> None:
    held = await person_approves.desk.hold(CALL, "registration")
    denied = await person_approves.desk.deny(held.call_id, ADMIN, "not during the audit")
    assert denied.status == "denied"


async def test_ap6_a_call_made_for_no_person_is_decided_by_a_security_admin(person_approves: Desk) -> None:
    held = await person_approves.desk.hold(ON_ITS_OWN, "destructive")
    assert (held.person, held.approver) == (None, "security-admin")
    with pytest.raises(Forbidden, match="agent that made a call"):
        await person_approves.desk.approve(held.call_id, Principal("batch-agent", ("security-admin",)))
    assert (await person_approves.desk.approve(held.call_id, ADMIN)).status == "approved"


async def test_ap6_a_held_call_is_announced_once_without_its_arguments(world: Desk) -> None:
    held = await world.desk.hold(CALL, "destructive")
    await world.desk.hold(CALL, "destructive")
    await world.desk.approve(held.call_id, ADMIN)
    await world.desk.pass_approved(CALL)
    [(event, data)] = world.heard.events  # approvals, passes and denials are audited, not announced
    assert event == "call.pending"
    assert data["call_id"] == held.call_id and data["approve_url"] == f"{PAGES}/{held.call_id}"
    assert (data["tool"], data["client_id"], data["subject"], data["held_because"]) == (
        "files__delete_file",
        "desk-assistant",
        "alice",
        "destructive",
    )
    assert "arguments" not in data and "/srv/report.pdf" not in json.dumps(data)


async def test_ap6_every_step_of_a_held_call_is_audited(
    world: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="mcp_gateway.audit")
    held = await world.desk.hold(CALL, "registration")
    await world.desk.approve(held.call_id, ADMIN)
    await world.desk.pass_approved(CALL)
    denied = await world.desk.hold(CALL, "registration")
    await world.desk.deny(denied.call_id, ADMIN, "once is enough")
    lines = [json.loads(record.getMessage()) for record in caplog.records]
    assert [(line["event"], line["outcome"]) for line in lines] == [
        ("call_pending", "held"),
        ("call_approved", "approved"),
        ("call_passed", "used"),
        ("call_pending", "held"),
        ("call_denied", "denied"),
    ]
    assert all(line["fingerprint"] == CALL.fingerprint for line in lines)


async def test_ap6_the_approval_covers_the_rounds_of_the_call_it_approved(world: Desk) -> None:
    held = await world.desk.hold(CALL, "registration")
    await world.desk.approve(held.call_id, ADMIN)
    used = await world.desk.pass_approved(CALL)
    assert used is not None
    await world.desk.asked_for_input(used, "sealed-state-1")
    assert await world.desk.pass_round(CALL, "made-up-state") is None
    assert await world.desk.pass_round(replace(CALL, subject="bob"), "sealed-state-1") is None
    assert await world.desk.pass_round(CALL, "sealed-state-1") is not None
    assert await world.desk.pass_round(CALL, "sealed-state-1") is None, "each round once"


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"destructive_calls": "always"}, "destructive_calls must be one of auto, approval"),
        ({"destructive_calls": True}, "destructive_calls"),
        ({"call_approver": "tool-author"}, "call_approver must be one of security-admin, person"),
    ],
)
def test_ap6_the_call_settings_of_the_policy_are_checked(table: dict[str, Any], fragment: str) -> None:
    with pytest.raises(PolicyError, match=fragment):
        policy_from_table(table)


def test_ap6_the_policy_holds_no_call_by_default_and_shows_its_call_settings() -> None:
    policy = policy_from_table({"destructive_calls": "approval", "call_approver": "person"})
    assert (policy.destructive_calls, policy.call_approver) == ("approval", "person")
    assert ApprovalPolicy().public_view()["destructive_calls"] == "auto"
    assert policy.public_view()["call_approver"] == "person"
