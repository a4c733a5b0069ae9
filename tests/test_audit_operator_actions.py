"""AU-7: every operator action is recorded with who, what, before and after.

The command line as an operator runs it (a process of its own on a SQLite store): each write names
its operator (``--as ops``: ``cli:ops``), and records exactly one event whose actor is that operator,
entered through the CLI, with the record's relevant fields before and after the change and never a
secret (the client secret and the webhook secret it prints once are nowhere in the trail). The
admin API's writes are the approval desks' (``tests/test_audit_one_event_per_decision.py``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from gateway.composition import build_gateway
from gateway.config import settings_from
from gateway.store.factory import open_store
from tests.support.cli import Cli

PASSWORD = "correct horse battery staple"
OPERATOR = {"subject": "cli:ops", "via": "cli"}


@dataclass(frozen=True)
class Action:
    name: str
    argv: Callable[[dict[str, str]], tuple[str, ...]]
    """The command, given what earlier actions printed (a webhook endpoint's id)."""
    event: tuple[str, str]
    before: Mapping[str, Any] | None
    """What the event's ``before`` holds (a subset), None when there was nothing."""
    after: Mapping[str, Any] | None
    stdin: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


def _fixed(*argv: str) -> Callable[[dict[str, str]], tuple[str, ...]]:
    return lambda _: argv


def _endpoint(action: str) -> Callable[[dict[str, str]], tuple[str, ...]]:
    return lambda seen: ("webhooks", action, seen["endpoint"])


ACTIONS = (
    Action(
        "users add",
        _fixed("users", "add", "ann", "--role", "auditor", "--password-stdin"),
        ("user_added", "added"),
        None,
        {"username": "ann", "roles": ["auditor"]},
        stdin=PASSWORD,
        fields={"user": "ann"},
    ),
    Action(
        "users roles",
        _fixed("users", "roles", "ann", "--add", "security-admin"),
        ("user_roles_changed", "changed"),
        {"roles": ["auditor"]},
        {"roles": ["security-admin", "auditor"]},
    ),
    Action(
        "users remove",
        _fixed("users", "remove", "ann"),
        ("user_removed", "removed"),
        {"username": "ann"},
        None,
    ),
    Action(
        "clients add",
        _fixed("clients", "add", "bot", "--auth-method", "client_secret_basic", "--scope", "fake"),
        ("client_added", "added"),
        None,
        {"client_id": "bot", "scopes": ["fake"], "has_secret": True},
        fields={"client_id": "bot"},
    ),
    Action(
        "clients remove (de-provisioning)",
        _fixed("clients", "remove", "bot"),
        ("client_removed", "removed"),
        {"client_id": "bot", "auth_method": "client_secret_basic"},
        None,
    ),
    Action(
        "tools add",
        _fixed(
            "tools",
            "add",
            "crm",
            "--url",
            "https://crm.example/mcp",
            "--audit-arguments",
            "create_ticket",
            "--audit-redact",
            "ssn",
        ),
        ("upstream_server_added", "added"),
        None,
        {"id": "crm", "audit_arguments": ["create_ticket"], "audit_redact": ["ssn"]},
        fields={"server": "crm"},
    ),
    Action(
        "tools remove",
        _fixed("tools", "remove", "crm"),
        ("upstream_server_removed", "removed"),
        {"id": "crm", "url": "https://crm.example/mcp"},
        None,
    ),
    Action(
        "keys rotate",
        _fixed("keys", "rotate", "--purpose", "gateway"),
        ("signing_key_rotated", "rotated"),
        {},
        {},
        fields={"purpose": "gateway"},
    ),
    Action(
        "webhooks add",
        _fixed("webhooks", "add", "--url", "https://hooks.example/in", "--event", "access.requested"),
        ("webhook_endpoint", "added"),
        None,
        {"url": "https://hooks.example/in", "events": ["access.requested"], "enabled": True},
    ),
    Action(
        "webhooks disable",
        _endpoint("disable"),
        ("webhook_endpoint", "disabled"),
        {"enabled": True},
        {"enabled": False},
    ),
    Action(
        "webhooks enable",
        _endpoint("enable"),
        ("webhook_endpoint", "enabled"),
        {"enabled": False},
        {"enabled": True},
    ),
    Action(
        "webhooks rotate-secret",
        _endpoint("rotate-secret"),
        ("webhook_endpoint", "secret_rotated"),
        {"previous_secret_until": None},
        {},
    ),
    Action(
        "webhooks remove",
        _endpoint("remove"),
        ("webhook_endpoint", "removed"),
        {"url": "https://hooks.example/in"},
        None,
    ),
)


def trail(folder: Path, after: int) -> list[dict[str, Any]]:
    with sqlite3.connect(folder / "gw.audit.sqlite3") as db:
        rows = db.execute(
            "SELECT seq, body FROM audit_events WHERE seq > ? ORDER BY seq", (after,)
        ).fetchall()
    db.close()
    return [{"seq": seq, **json.loads(body)} for seq, body in rows]


def _holds(whole: Mapping[str, Any], part: Mapping[str, Any]) -> bool:
    return all(whole.get(name) == value for name, value in part.items())


def test_au7_every_operator_action_is_recorded_with_who_what_before_and_after(tmp_path: Path) -> None:
    cli = Cli.on_sqlite(tmp_path)
    assert cli.run("keys", "list").returncode == 0  # the store, its keys and its trail exist
    seen: dict[str, str] = {}
    printed_secrets: list[str] = []
    for action in ACTIONS:
        mark = max([0, *(event["seq"] for event in trail(tmp_path, 0))])
        done = cli.run(*action.argv(seen), "--as", "ops", "--json", stdin=action.stdin)
        assert done.returncode == 0, (action.name, done.stderr)
        answer = json.loads(done.stdout)
        if action.name == "webhooks add":
            seen["endpoint"] = answer["id"]
        printed_secrets += [
            answer[name]
            for name in ("client_secret", "secret")
            if isinstance(answer, dict) and answer.get(name)
        ]
        recorded = [e for e in trail(tmp_path, mark) if not e["type"].startswith("audit_")]
        assert [(e["type"], e["outcome"]) for e in recorded] == [action.event], action.name
        [event] = recorded
        assert event["actor"] == OPERATOR, action.name
        fields = event["fields"]
        assert _holds(fields, action.fields), (action.name, fields)
        for side, expected in (("before", action.before), ("after", action.after)):
            if expected is None:
                assert fields[side] is None, (action.name, side, fields)
            else:
                assert isinstance(fields[side], dict) and _holds(fields[side], expected), (
                    action.name,
                    side,
                    fields,
                )
    everything = json.dumps(trail(tmp_path, 0))
    assert len(printed_secrets) == 3  # the client secret, the webhook secret and its rotation
    assert not [secret for secret in printed_secrets if secret in everything]
    assert "secret_hash" not in everything and "sealed_secret" not in everything


def test_au7_an_operator_is_named_even_without_as(tmp_path: Path) -> None:
    """Without ``--as`` the operator is the login name (``$USER``): never nobody."""
    cli = Cli.on_sqlite(tmp_path)
    added = cli.run("tools", "add", "crm", "--url", "https://crm.example/mcp", extra_env={"USER": "dana"})
    assert added.returncode == 0, added.stderr
    [event] = [e for e in trail(tmp_path, 0) if e["type"] == "upstream_server_added"]
    assert event["actor"] == {"subject": "cli:dana", "via": "cli"}


def filed_request(cli: Cli, scope: str) -> str:
    """A pending request of the agent ``bot``, filed on the CLI's store as a running gateway files it."""

    async def work() -> str:
        settings = settings_from(store=cli.store)
        gateway = build_gateway(settings, open_store(cli.store))
        try:
            filed = await gateway.approvals.requests.file(
                client_id="bot", scopes=(scope,), origin="agent", justification="month end"
            )
            return filed.request_id
        finally:
            await gateway.aclose()

    return anyio.run(work)


def test_au7_the_approval_commands_record_the_operator_before_and_after(tmp_path: Path) -> None:
    cli = Cli.on_sqlite(tmp_path)
    approved, denied = filed_request(cli, "reports:read"), filed_request(cli, "reports:admin")

    def decided(*argv: str) -> dict[str, Any]:
        mark = max([0, *(event["seq"] for event in trail(tmp_path, 0))])
        done = cli.run(*argv, "--as", "ops", "--json")
        assert done.returncode == 0, done.stderr
        [event] = [e for e in trail(tmp_path, mark) if not e["type"].startswith("audit_")]
        assert event["actor"] == OPERATOR, argv
        return event

    event = decided("approvals", "approve", approved)
    assert (event["type"], event["fields"]["before"], event["fields"]["after"]["status"]) == (
        "access_approved",
        {"status": "pending"},
        "approved",
    )
    grant_id = event["fields"]["after"]["grant_id"]
    event = decided("approvals", "deny", denied, "--reason", "not for agents")
    assert (event["type"], event["fields"]["before"], event["fields"]["after"]) == (
        "access_denied",
        {"status": "pending"},
        {"status": "denied"},
    )
    event = decided("grants", "review", grant_id)
    assert event["type"] == "grant_reviewed" and event["fields"]["before"] != event["fields"]["after"]
    event = decided("grants", "revoke", grant_id, "--reason", "moved")
    assert (event["type"], event["fields"]["before"]["revoked_at"]) == ("grant_revoked", None)
    assert event["fields"]["after"]["revoked_at"] is not None
