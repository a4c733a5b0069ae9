"""``python -m gateway approvals …`` and ``grants …`` on a SQLite store, as an operator runs them
(rule book AP-2, AP-4, AP-5).

Requests are filed in the test's process on the same store, through the request desk, as a running
gateway files them; the CLI then decides in a process of its own. Its principal is ``cli:<name>``
(``--as NAME``, else ``$USER``). Exit codes (gateway/cli): 0 done, 1 no such record, 2 bad
arguments or a decision the rules refuse.
"""

from __future__ import annotations

import doctest
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest

from gateway.approvals.decisions import Principal
from gateway.cli import approvals as approvals_cli
from gateway.clock import Clock, FrozenClock, SystemClock
from gateway.composition import Gateway, build_gateway
from gateway.config import settings_from
from gateway.store.factory import open_store
from tests.support.agents import AgentKey
from tests.support.cli import Cli, assert_refused

T = TypeVar("T")

POLICY = {"rules": [{"scope": "payments", "approvers": 2, "max_duration": 3600}]}
DAY = 86400


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli.on_sqlite(tmp_path)


def on_store(cli: Cli, work: Callable[[Gateway], Awaitable[T]], clock: Clock | None = None) -> T:
    """``work`` on a gateway over the CLI's store, as a running server would do it."""

    async def run() -> T:
        settings = settings_from(store=cli.store, approvals={**POLICY, "review_interval": DAY})
        gateway = build_gateway(settings, open_store(cli.store), clock=clock)
        try:
            return await work(gateway)
        finally:
            await gateway.aclose()

    return anyio.run(run)


def file(cli: Cli, scopes: str, *, client_id: str = "agent", subject: str | None = None, **terms: Any) -> str:
    """A pending request of ``client_id`` (for ``subject``, a person) on the CLI's store; its id."""

    async def work(gateway: Gateway) -> str:
        filed = await gateway.approvals.requests.file(
            client_id=client_id,
            scopes=scopes.split(),
            origin="agent",
            justification="needed for the test",
            subject=subject,
            **terms,
        )
        return filed.request_id

    return on_store(cli, work)


def test_ap4_the_cli_lists_shows_and_approves_part_of_a_request_for_a_span(cli: Cli) -> None:
    request_id = file(cli, "reports:read reports:write", duration=7200)
    listed = cli.run("approvals", "list").stdout.splitlines()
    assert listed[0].split() == ["ID", "STATUS", "CLIENT", "SCOPES", "RESOURCE", "APPROVALS", "CREATED"]
    assert listed[1].split()[:5] == [request_id, "pending", "agent", "reports:read", "reports:write"]
    assert "0/1" in listed[1] and listed[1].endswith("UTC")
    assert [r["request_id"] for r in cli.json("approvals", "list", "--status", "pending")] == [request_id]
    assert cli.json("approvals", "list", "--status", "approved") == []

    shown = cli.run("approvals", "show", request_id).stdout
    assert "status: pending" in shown and "justification: needed for the test" in shown
    assert cli.json("approvals", "show", request_id)["held_scopes"] == []

    approved = cli.json(
        "approvals", "approve", request_id, "--scope", "reports:read", "--for", "1h",
        "--note", "read only", "--as", "alice",
    )  # fmt: skip
    assert (approved["status"], approved["granted_scopes"], approved["decided_by"]) == (
        "approved",
        ["reports:read"],
        ["cli:alice"],
    )
    assert approved["granted_until"] - approved["decided_at"] == 3600
    assert approved["held_scopes"] == ["reports:read"]
    assert request_id in cli.run("approvals", "list", "--status", "approved").stdout


def test_ap4_the_cli_denies_with_a_reason_and_a_second_decision_is_refused(cli: Cli) -> None:
    request_id = file(cli, "reports:admin")
    denied = cli.run("approvals", "deny", request_id, "--reason", "not for agents", "--as", "alice")
    assert denied.returncode == 0, denied.stderr
    assert denied.stdout.strip() == f"denied {request_id}: not for agents"
    shown = cli.json("approvals", "show", request_id)
    assert (shown["status"], shown["reason"]) == ("denied", "not for agents")
    assert shown["decided_by"] == ["cli:alice"]
    again = cli.run("approvals", "deny", request_id, "--reason", "again", "--as", "bob")
    assert_refused(again, 2, "the request is denied, not pending")
    assert_refused(cli.run("approvals", "approve", request_id, "--as", "bob"), 2, "not pending")
    assert cli.run("approvals", "deny", request_id).returncode == 2  # --reason is required


def test_ap4_no_operator_decides_a_request_made_in_their_own_name(cli: Cli) -> None:
    """The desk compares the request's client and person with ``cli:<name>``; ``$USER`` names the
    operator when ``--as`` does not."""
    request_id = file(cli, "reports:read", subject="cli:bob")
    own = cli.run("approvals", "approve", request_id, "--as", "bob")
    assert_refused(own, 2, "no one decides a request they made")
    as_user = cli.run("approvals", "deny", request_id, "--reason", "mine", extra_env={"USER": "bob"})
    assert_refused(as_user, 2, "no one decides a request they made")
    approved = cli.json("approvals", "approve", request_id, extra_env={"USER": "carol"})
    assert approved["decided_by"] == ["cli:carol"]


def test_ap4_two_operators_must_approve_a_two_person_scope_at_the_cli(cli: Cli) -> None:
    request_id = file(cli, "payments:refund")
    first = cli.run("approvals", "approve", request_id, "--as", "alice", "--duration", "1800")
    assert first.returncode == 0, first.stderr
    assert "recorded the approval" in first.stdout and "waits for 1 more" in first.stdout
    twice = cli.run("approvals", "approve", request_id, "--as", "alice")
    assert_refused(twice, 2, "you approved this request already")
    second = cli.json("approvals", "approve", request_id, "--as", "bob")
    assert (second["status"], second["decided_by"]) == ("approved", ["cli:alice", "cli:bob"])
    assert second["granted_until"] - second["decided_at"] == 1800


def test_ap2_the_cli_lists_shows_reviews_and_revokes_grants(cli: Cli) -> None:
    jwks = json.dumps(AgentKey().jwks)
    assert cli.run("clients", "add", "agent", "--scope", "weather", "--jwks", jwks).returncode == 0
    request_id = file(cli, "reports:read")
    grant_id = cli.json("approvals", "approve", request_id, "--as", "alice")["grant_id"]

    listed = cli.run("grants", "list").stdout.splitlines()
    assert listed[0].split() == ["ID", "CLIENT", "SCOPES", "RESOURCE", "STATUS", "EXPIRES", "REVIEW", "BY"]
    assert listed[1].split()[:5] == ["standing:agent", "agent", "weather", "any", "active"]
    assert listed[2].split()[:3] == [grant_id, "agent", "reports:read"]
    assert [g["grant_id"] for g in cli.json("grants", "list", "--client", "agent")] == [
        "standing:agent",
        grant_id,
    ]
    assert cli.json("grants", "list", "--client", "nobody") == []
    assert "status: active" in cli.run("grants", "show", grant_id).stdout

    reviewed = cli.json("grants", "review", grant_id, "--note", "still needed", "--as", "alice")
    assert (reviewed["reviewed_by"], reviewed["status"]) == ("cli:alice", "active")
    revoked = cli.run("grants", "revoke", grant_id, "--reason", "the audit is over", "--as", "alice")
    assert revoked.stdout.strip() == f"revoked {grant_id} (reports:read)"
    shown = cli.json("grants", "show", grant_id)
    assert (shown["status"], shown["revoked_by"], shown["revoke_reason"]) == (
        "revoked",
        "cli:alice",
        "the audit is over",
    )
    assert_refused(cli.run("grants", "revoke", grant_id, "--reason", "again"), 2, "revoked already")
    assert_refused(cli.run("grants", "review", grant_id), 2, "cannot be reviewed")
    assert_refused(cli.run("grants", "revoke", "standing:agent", "--reason", "x"), 2, "standing grant")
    assert_refused(cli.run("grants", "show", "grt_nothing"), 1, "no such grant")


def test_ap5_the_cli_lists_overdue_grants_and_a_review_recertifies_them(cli: Cli) -> None:
    """Approved two days ago with a one-day review interval: overdue now."""
    two_days_ago = FrozenClock(time.time() - 2 * DAY)

    async def approve_then(gateway: Gateway) -> str:
        filed = await gateway.approvals.requests.file(
            client_id="agent", scopes=["ledger:read"], origin="agent", justification="month end"
        )
        approved = await gateway.approvals.requests.approve(
            filed.request_id, Principal("cli:alice", ("security-admin",))
        )
        assert approved.grant_id is not None
        return approved.grant_id

    grant_id = on_store(cli, approve_then, clock=two_days_ago)
    assert [g["grant_id"] for g in cli.json("grants", "list", "--overdue")] == [grant_id]
    assert "(overdue)" in cli.run("grants", "list", "--overdue").stdout
    reviewed = cli.run("grants", "review", grant_id, "--as", "bob")
    assert reviewed.returncode == 0 and reviewed.stdout.startswith(f"re-certified {grant_id}; next review: ")
    assert cli.json("grants", "list", "--overdue") == []
    assert on_store(cli, lambda g: g.approvals.grants.get(grant_id), SystemClock()).reviewed_by == "cli:bob"


def test_bad_spans_unknown_ids_and_empty_lists_are_answered_in_one_line(cli: Cli) -> None:
    assert cli.run("approvals", "list").stdout.strip() == "no access requests"
    assert cli.run("grants", "list").stdout.strip() == "no grants"
    request_id = file(cli, "reports:read")
    span = cli.run("approvals", "approve", request_id, "--for", "3x", "--as", "alice")
    assert_refused(span, 2, "--for takes a span such as 90m, 1h, 2d or 1d12h, not '3x'")
    both = cli.run("approvals", "approve", request_id, "--for", "1h", "--duration", "60", "--as", "alice")
    assert both.returncode == 2
    wider = cli.run("approvals", "approve", request_id, "--scope", "reports", "--as", "alice")
    assert_refused(wider, 2, "was not requested")
    assert_refused(cli.run("approvals", "show", "req_nothing"), 1, "no such access request")
    assert cli.json("approvals", "show", request_id)["status"] == "pending"
    assert doctest.testmod(approvals_cli, raise_on_error=True).attempted >= 1
