"""The audit trail on PostgreSQL beyond the contract (tests/test_audit_store_contract.py runs that on
PostgreSQL too): replicas appending at once form one chain (AU-8); a stopped or frozen server makes
``AuditLog.durable`` fail closed and the same trail works again by itself, with nothing lost and one
chain (AU-8); ``audit verify`` names a row edited with SQL;
a database without the trail's tables says what to run.

No test asserts a time: a trail that hung instead of failing would hit the test's own timeout.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest

from gateway.audit import AuditLog
from gateway.audit.events import EventMaker
from gateway.audit.factory import open_audit_store
from gateway.audit.postgres_store import PostgresAuditStore
from gateway.audit.store import AuditUnavailable
from gateway.audit.trail import AuditTrail
from gateway.clock import FrozenClock
from gateway.key_encryption import new_kek_text
from gateway.store import StoreUnavailable
from tests.support import postgres_servers
from tests.support.audit import START, made_events, maker_at, trail_world
from tests.support.cli import Cli

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]

TEST_TIMEOUT = 60
PASSWORD = "correct horse battery staple"


@pytest.fixture
def private_postgres() -> Iterator[tuple[postgres_servers.PostgresServer, str]]:
    """A server of the test's own, since the test stops or freezes it, and its migrated database."""
    with postgres_servers.postgres_database() as server_and_url:
        yield server_and_url


async def _eventually_durable(audit: AuditLog, n: int) -> None:
    """The server is back: ``durable`` works again once the trail reconnects (the test's timeout
    would end a trail that never does)."""
    while True:
        try:
            return await audit.durable("token_issued", outcome="granted", n=n)
        except AuditUnavailable:
            await anyio.sleep(0.1)


async def test_au8_replicas_appending_at_once_to_one_postgresql_trail_form_one_chain(
    postgres_url: str,
) -> None:
    """Four store objects (four pools, as four replicas have) append 25 batches each, all at once:
    without the head row's lock two of them would chain after the same head."""
    replicas = [PostgresAuditStore(postgres_url) for _ in range(4)]

    async def appends(store: PostgresAuditStore, tag: str) -> None:
        maker = maker_at()
        for _ in range(25):
            await store.append(made_events(maker, 2, writer=tag))

    try:
        with anyio.fail_after(TEST_TIMEOUT):
            async with anyio.create_task_group() as group:
                for store, tag in zip(replicas, "abcd", strict=True):
                    group.start_soon(appends, store, tag)
        stored = await replicas[0].read(limit=1000)
    finally:
        for store in replicas:
            await store.close()
    assert [s.seq for s in stored] == list(range(1, 201))
    assert all(b.prev_hash == a.hash and b.intact() for a, b in itertools.pairwise(stored))
    assert sorted(s.event().fields["writer"] for s in stored) == sorted("abcd" * 50)


async def test_au8_a_stopped_or_frozen_postgres_fails_durable_closed_and_the_trail_recovers(
    private_postgres: tuple[postgres_servers.PostgresServer, str],
) -> None:
    server, url = private_postgres
    store = open_audit_store(url)
    maker = EventMaker(FrozenClock(START))
    audit = AuditLog(trail=AuditTrail(store, maker, when_unavailable="fail_closed"), maker=maker)
    refused = 0
    try:
        with anyio.fail_after(TEST_TIMEOUT):
            await audit.durable("token_issued", outcome="granted", n=0)
            for take_away, bring_back in ((server.stop, server.start), (server.pause, server.resume)):
                take_away()
                try:
                    for _ in range(3):
                        with pytest.raises(AuditUnavailable):
                            await audit.durable("token_issued", outcome="granted", n=-1)
                        refused += 1
                finally:
                    bring_back()
                await _eventually_durable(audit, 1)
        stored = await store.read(limit=10_000)
    finally:
        await store.close()
    # The refused events stayed buffered and were written once the trail answered: nothing lost,
    # one chain without gaps.
    assert [s.seq for s in stored] == list(range(1, len(stored) + 1))
    assert all(b.prev_hash == a.hash and b.intact() for a, b in itertools.pairwise(stored))
    fields = [s.event().fields["n"] for s in stored]
    assert fields.count(-1) == refused == 6 and fields.count(1) == 2


async def test_au2_audit_verify_names_a_row_edited_in_a_postgresql_trail(
    postgres_url: str, tmp_path: Path
) -> None:
    world = trail_world(tmp_path, every_events=5, durable=PostgresAuditStore(postgres_url))
    try:
        for _ in range(4):
            await world.record(3, client_id="bot")
        await world.trail.flush()
        await world.checkpoints.maybe(force=True)
        untouched = await world.verification()
        assert untouched.ok, untouched.findings
        assert untouched.head == untouched.signed_through == untouched.events >= 12
        editor = await asyncpg.connect(postgres_url)
        try:  # someone with write access to the database, behind the gateway's back
            await editor.execute(
                "UPDATE audit_events SET body = replace(body, 'granted', 'refused') WHERE seq = 9"
            )
            await editor.execute("UPDATE audit_events SET client_id = 'someone-else' WHERE seq = 4")
        finally:
            await editor.close()
        result = await world.verification()
    finally:
        await world.store.close()
    assert not result.ok
    assert {(finding.kind, finding.seq) for finding in result.findings} == {("edited", 9), ("edited", 4)}


async def test_au8_an_append_whose_answer_was_lost_is_not_written_twice(postgres_url: str) -> None:
    """The deadline passed while the batch committed: the caller was told the trail is unavailable,
    so the trail sends the same events again, with what came since, after another writer's append
    (the checkpointer's); each is written once."""
    store = PostgresAuditStore(postgres_url)
    calls = store._calls  # the answer of the next call is lost after the database committed it
    answering = calls.run

    async def answer_lost(work: Any) -> Any:
        await answering(work)
        raise StoreUnavailable("postgresql: no answer within 1.0 s")

    maker = maker_at()
    first, other, later = (
        made_events(maker, 3),
        made_events(maker, 1, by="checkpointer"),
        made_events(maker, 2),
    )
    try:
        calls.run = answer_lost  # type: ignore[method-assign]
        with pytest.raises(AuditUnavailable):
            await store.append(first)
        calls.run = answering  # type: ignore[method-assign]
        await store.append(other)
        head = await store.append([*first, *later])
        stored = await store.read()
    finally:
        await store.close()
    assert [s.index.event_id for s in stored] == [e.event_id for e in (*first, *other, *later)]
    assert head.seq == 6 and all(b.prev_hash == a.hash for a, b in itertools.pairwise(stored))


def test_au2_mcp_gateway_audit_verify_on_a_postgresql_trail_names_the_edited_event(
    postgres_url: str, tmp_path: Path
) -> None:
    """The command line as a security team runs it, on the trail a PostgreSQL store's gateway
    writes to the store's database (no ``audit_store`` set)."""
    cli = Cli(store=postgres_url, cwd=tmp_path)
    env = {"MCP_GATEWAY_KEY_ENCRYPTION_KEY": "env:AUDIT_TEST_KEK", "AUDIT_TEST_KEK": new_kek_text()}
    for name in ("ann", "bob"):
        added = cli.run(
            "users", "add", name, "--role", "auditor", "--password-stdin", extra_env=env, stdin=PASSWORD
        )
        assert added.returncode == 0, added.stderr
    verified = cli.run("audit", "verify", extra_env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.splitlines()[-1] == "the trail is as the gateway wrote it"
    added_users = cli.json("audit", "search", "--type", "user_added", extra_env=env)
    bob = next(event["seq"] for event in added_users if event["fields"]["user"] == "bob")
    anyio.run(
        _edit, postgres_url, "UPDATE audit_events SET body = replace(body, 'bob', 'eve') WHERE seq = $1", bob
    )
    changed = cli.run("audit", "verify", "--json", extra_env=env)
    assert changed.returncode == 3, changed.stdout + changed.stderr
    assert {(f["kind"], f["seq"]) for f in json.loads(changed.stdout)["findings"]} == {("edited", bob)}


async def _edit(url: str, sql: str, *args: object) -> None:
    """Change the trail directly, as someone with write access to the database could."""
    editor = await asyncpg.connect(url)
    try:
        await editor.execute(sql, *args)
    finally:
        await editor.close()


async def test_au2_a_postgresql_trail_without_its_tables_says_to_migrate(
    unmigrated_postgres_url: str,
) -> None:
    store = open_audit_store(unmigrated_postgres_url)
    try:
        with pytest.raises(AuditUnavailable, match="mcp-gateway migrate"):
            await store.head()
    finally:
        await store.close()


def test_au2_a_postgresql_audit_store_url_that_names_no_database_server_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="no host"):
        open_audit_store("postgresql:///gateway")
    with pytest.raises(ValueError, match="port is not a number"):
        open_audit_store("postgresql://db.internal:port/gateway")
