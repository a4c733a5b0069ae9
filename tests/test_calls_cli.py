"""``python -m gateway calls …`` on a SQLite store, as an operator runs it (rule book AP-6).

Calls are held the way a running gateway holds them (its desk, on the CLI's store); the CLI lists,
shows, approves and denies them in a process of its own. The operator is ``cli:<name>`` (``--as
NAME``, else ``$USER``), as for ``approvals`` and ``grants``. Exit codes (gateway/cli): 0 done, 1 no
such call, 2 bad arguments or a decision the rules refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio

from gateway.approvals.call_desk import CallDesk
from gateway.approvals.events import Events
from gateway.approvals.held_calls import CallFacts, HeldCallBook, canonical_arguments
from gateway.approvals.policy import ApprovalPolicy
from gateway.audit import AuditLog
from gateway.clock import SystemClock
from gateway.store.sqlite import SQLiteStore
from tests.support.cli import Cli, assert_refused

FOR_ALICE = CallFacts(
    tool="files__delete_file",
    server_id="files",
    upstream_name="delete_file",
    arguments=canonical_arguments({"path": "/srv/report.pdf"}),
    client_id="desk-assistant",
    subject="alice",
    actor_chain=(),
)
ON_ITS_OWN = CallFacts(
    tool="files__wipe",
    server_id="files",
    upstream_name="wipe",
    arguments=canonical_arguments({"volume": "scratch"}),
    client_id="batch-agent",
    subject="batch-agent",
    actor_chain=(),
)


class Silent:
    async def announce(self, event: str, data: Mapping[str, Any]) -> None:
        return None


def hold(cli: Cli, *calls: CallFacts, policy: ApprovalPolicy | None = None) -> list[str]:
    """What a running gateway does when these calls arrive: hold each; their ids."""

    async def run() -> list[str]:
        store = SQLiteStore(cli.store.removeprefix("sqlite:///"))
        clock = SystemClock()
        policy_ = policy or ApprovalPolicy()
        events = Events(AuditLog(), Silent(), clock, suspend_overdue=False)
        desk = CallDesk(
            book=HeldCallBook(store),
            policy=policy_,
            events=events,
            clock=clock,
            page_url="https://gw/admin/calls",
        )
        try:
            return [(await desk.hold(facts, "registration")).call_id for facts in calls]
        finally:
            await store.close()

    return anyio.run(run)


def test_ap6_held_calls_are_listed_shown_and_decided_from_the_command_line(tmp_path: Path) -> None:
    cli = Cli.on_sqlite(tmp_path)
    for_alice, on_its_own = hold(cli, FOR_ALICE, ON_ITS_OWN)

    listed = cli.run("calls", "list")
    assert listed.returncode == 0, listed.stderr
    assert for_alice in listed.stdout and on_its_own in listed.stdout and "pending" in listed.stdout
    assert {c["call_id"] for c in cli.json("calls", "list", "--status", "pending")} == {for_alice, on_its_own}
    shown = cli.run("calls", "show", for_alice)
    assert 'arguments: {"path":"/srv/report.pdf"}' in shown.stdout and "subject: alice" in shown.stdout

    approved = cli.json("calls", "approve", for_alice, "--as", "sec-ops", "--note", "owner agreed")
    assert (approved["status"], approved["decided_by"], approved["reason"]) == (
        "approved",
        "cli:sec-ops",
        "owner agreed",
    )
    assert_refused(cli.run("calls", "deny", for_alice, "--as", "sec-ops", "--reason", "no"), 2, "not pending")

    denied = cli.json(
        "calls", "deny", on_its_own, "--reason", "not on a weekday", extra_env={"USER": "carol"}
    )
    assert (denied["status"], denied["decided_by"], denied["reason"]) == (
        "denied",
        "cli:carol",
        "not on a weekday",
    )
    assert [c["call_id"] for c in cli.json("calls", "list", "--status", "denied")] == [on_its_own]

    assert_refused(cli.run("calls", "show", "call_nope"), 1, "no held call 'call_nope'")
    assert_refused(cli.run("calls", "approve", "call_nope", "--as", "sec-ops"), 1, "no held call")


def test_ap6_no_operator_decides_a_call_made_in_their_own_name(tmp_path: Path) -> None:
    """The desk compares the call's person and agents with ``cli:<name>``."""
    cli = Cli.on_sqlite(tmp_path)
    for_bob, by_robot = hold(
        cli,
        replace(FOR_ALICE, subject="cli:bob"),
        replace(ON_ITS_OWN, client_id="cli:robot", subject="cli:robot"),
    )
    assert_refused(
        cli.run("calls", "approve", for_bob, "--as", "bob"), 2, "no one decides a call made for them"
    )
    assert_refused(cli.run("calls", "approve", by_robot, "--as", "robot"), 2, "agent that made a call")
    assert cli.json("calls", "approve", for_bob, "--as", "carol")["decided_by"] == "cli:carol"


def test_ap6_with_the_person_as_approver_the_command_line_sends_approvals_to_the_console(
    tmp_path: Path,
) -> None:
    """The operator is not the person the agent acted for: approving is refused with one line that
    says where the person approves; denying stays open to a security admin, and a call made for
    nobody is a security admin's to approve."""
    config = tmp_path / "gateway.toml"
    config.write_text('public_url = "https://gw.example"\n[approvals]\ncall_approver = "person"\n')
    cli = Cli(store=f"sqlite:///{tmp_path / 'gw.sqlite3'}", cwd=tmp_path, config=config)
    for_alice, on_its_own, again = hold(
        cli,
        FOR_ALICE,
        ON_ITS_OWN,
        replace(FOR_ALICE, arguments=canonical_arguments({"path": "/srv/other.pdf"})),
        policy=ApprovalPolicy(call_approver="person"),
    )

    for name in ("sec-ops", "alice"):
        refused = cli.run("calls", "approve", for_alice, "--as", name)
        assert_refused(refused, 2, "only alice, for whom the agent made the call, may approve it")
        assert (
            f"alice approves it in the console, at https://gw.example/admin/calls/{for_alice}"
            in refused.stderr
        )
    assert cli.json("calls", "show", for_alice)["status"] == "pending"
    denied = cli.json("calls", "deny", again, "--as", "sec-ops", "--reason", "not this one")
    assert (denied["status"], denied["decided_by"]) == ("denied", "cli:sec-ops")
    assert cli.json("calls", "approve", on_its_own, "--as", "sec-ops")["status"] == "approved", (
        "a call made for no person falls back to a security admin"
    )
