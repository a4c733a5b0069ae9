"""``mcp-gateway audit tail|search|verify|export`` as a security team runs it: separate processes on
the trail beside a SQLite store, which the other commands of the same store write (AU-1, AU-2)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gateway.audit.chain import canonical, link
from gateway.audit.search import parse_time
from tests.support.audit import edit_file
from tests.support.cli import REPO, Cli, assert_refused

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """Three people added at the command line, each by an operator of the same name (``--as``):
    their events are the trail these tests read."""
    cli = Cli.on_sqlite(tmp_path_factory.mktemp("audit-cli"))
    for name, role in (("ann", "auditor"), ("bob", "security-admin"), ("cyd", "tool-author")):
        added = cli.run(
            "users", "add", name, "--role", role, "--password-stdin", "--as", name, stdin=PASSWORD
        )
        assert added.returncode == 0
    return cli


def test_au1_tail_shows_the_newest_events_with_who_and_how(cli: Cli) -> None:
    shown = cli.run("audit", "tail", "-n", "2")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["SEQ", "AT", "TYPE", "OUTCOME", "CLIENT", "SUBJECT", "VIA", "DETAILS"]
    assert len(lines) == 3 and "user_added" in lines[-1] and "cyd" in lines[-1] and " cli " in lines[-1]
    events = cli.json("audit", "tail", "-n", "10")
    added = [e for e in events if e["type"] == "user_added"]
    assert [e["actor"] for e in added] == [
        {"subject": f"cli:{n}", "via": "cli"} for n in ("ann", "bob", "cyd")
    ]
    assert all({"seq", "hash", "prev_hash", "id", "at"} <= set(e) for e in events)


def test_au1_search_narrows_by_every_criterion_given(cli: Cli) -> None:
    assert [e["actor"]["subject"] for e in cli.json("audit", "search", "--type", "user_added")] == [
        "cli:ann",
        "cli:bob",
        "cli:cyd",
    ]
    bob = cli.json("audit", "search", "--subject", "cli:bob")
    assert [e["fields"]["roles"] for e in bob] == ["security-admin"]
    assert cli.json("audit", "search", "--since", "1h", "--outcome", "added", "--limit", "1")[0]["seq"] == 1
    assert cli.json("audit", "search", "--until", "2001-01-01") == []
    assert cli.json("audit", "search", "--client", "nobody") == []
    more = cli.run("audit", "search", "--type", "user_added", "--limit", "2")
    assert more.stdout.endswith(f"(more: --after {bob[0]['seq']})\n")


def test_au2_export_writes_json_lines_a_verifier_can_rechain(cli: Cli) -> None:
    exported = cli.run("audit", "export", "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    previous = "0" * 64
    for line in exported.stdout.splitlines():
        entry = json.loads(line)
        event = {k: v for k, v in entry.items() if k not in ("seq", "prev_hash", "hash")}
        assert entry["prev_hash"] == previous
        assert entry["hash"] == link(previous, canonical(event)), "the canonical form, as documented"
        previous = entry["hash"]
    assert cli.run("audit", "export", "--format", "jsonl", "--since", "2999-01-01").stdout == ""


def test_au2_verify_passes_on_the_trail_as_written(cli: Cli) -> None:
    verified = cli.run("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.splitlines()[-1] == "the trail is as the gateway wrote it"
    report = cli.json("audit", "verify")
    assert report["ok"] and report["findings"] == [] and report["signed_through"] == report["head"]


def test_au2_verify_fails_and_names_the_event_a_copy_of_the_trail_changed(tmp_path: Path, cli: Cli) -> None:
    copy = Cli.on_sqlite(tmp_path)
    for name in ("gw.sqlite3", "gw.kek", "gw.audit.sqlite3"):
        (tmp_path / name).write_bytes((cli.cwd / name).read_bytes())
        (tmp_path / name).chmod(0o600)
    bob = cli.json("audit", "search", "--subject", "cli:bob")[0]["seq"]
    edit_file(tmp_path / "gw.audit.sqlite3", "DELETE FROM audit_events WHERE seq = ?", bob)
    changed = copy.run("audit", "verify", "--json")
    assert changed.returncode == 3
    assert {
        "kind": "deleted",
        "seq": bob + 1,
        "detail": f"event {bob} missing before event {bob + 1}",
    } in json.loads(changed.stdout)["findings"]


def test_au1_tail_follow_prints_events_as_they_come(tmp_path: Path) -> None:
    cli = Cli.on_sqlite(tmp_path)
    assert cli.run("users", "add", "first", "--password-stdin", stdin=PASSWORD).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_GATEWAY_")}
    env.update(MCP_GATEWAY_STORE=cli.store, PYTHONPATH=str(REPO))
    follower = subprocess.Popen(
        [sys.executable, "-m", "gateway", "audit", "tail", "-n", "1", "--follow", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout or ()], daemon=True).start()
    try:
        lines.get(timeout=30)  # the newest event: the follower has read where the trail ends
        second = cli.run("users", "add", "second", "--password-stdin", "--as", "ops", stdin=PASSWORD)
        assert second.returncode == 0
        seen = json.loads(lines.get(timeout=30))  # it polls twice a second
        assert (seen["type"], seen["actor"]["subject"], seen["fields"]["user"]) == (
            "user_added",
            "cli:ops",
            "second",
        )
    finally:
        follower.terminate()
        follower.wait(10)
        if follower.stdout is not None:
            follower.stdout.close()


def test_au1_a_time_that_is_no_time_is_refused(cli: Cli) -> None:
    assert_refused(cli.run("audit", "search", "--since", "yesterday"), 2, "is not a time")


def test_au1_times_are_read_as_epoch_iso_8601_or_a_length_before_now() -> None:
    now = 1_800_000_000.0
    assert parse_time("1700000000", now) == 1_700_000_000.0
    assert parse_time("2023-11-14T22:13:20Z", now) == 1_700_000_000.0
    assert parse_time("2023-11-14T23:13:20+01:00", now) == 1_700_000_000.0
    assert parse_time("2023-11-14", now) == 1_699_920_000.0
    assert [parse_time(ago, now) for ago in ("90s", "15m", "2h", "7d")] == [
        now - 90,
        now - 900,
        now - 7200,
        now - 7 * 86400,
    ]
