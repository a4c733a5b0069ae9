"""``python -m gateway webhooks …`` on a SQLite store, as an operator runs it (rule book WH-1, WH-3).

Exit codes (gateway/cli): 0 done, 1 the endpoint was not there, 2 bad arguments.
"""

from __future__ import annotations

from pathlib import Path

import anyio

from gateway.audit import AuditLog
from gateway.clock import SystemClock
from gateway.key_encryption import protector_for
from gateway.store.sqlite import SQLiteStore
from gateway.webhooks.dispatcher import Webhooks
from gateway.webhooks.sender import SenderPolicy
from tests.support.cli import Cli, assert_refused
from tests.support.fetch_probes import TableResolver


def announce_and_attempt(cli: Cli) -> None:
    """What a running gateway does: announce, then one pass, on the CLI's store and KEK file.
    ``hooks.example`` resolves to loopback, which the sender refuses (WH-2): one attempt, logged."""

    async def run() -> None:
        store = SQLiteStore(cli.store.removeprefix("sqlite:///"))
        resolver = TableResolver({"hooks.example": ["127.0.0.1"]})
        protector = protector_for("", cli.store, {})
        webhooks = Webhooks(store, SystemClock(), protector, SenderPolicy(), AuditLog(), resolver=resolver)
        try:
            await webhooks.announce("access.requested", {"request_id": "req-1"})
            assert await webhooks.deliver_due() == 1
        finally:
            await store.close()

    anyio.run(run)


def test_wh1_an_endpoint_is_added_with_a_secret_shown_once_and_its_deliveries_are_listed(
    tmp_path: Path,
) -> None:
    cli = Cli.on_sqlite(tmp_path)
    added = cli.json(
        "webhooks", "add", "--url", "https://hooks.example/in", "--event", "access.requested",
        "--event", "grant.revoked", "--description", "security team",
    )  # fmt: skip
    endpoint_id, secret = added["id"], added["secret"]
    assert secret.startswith("whsec_")
    assert added["events"] == ["access.requested", "grant.revoked"]

    listed = cli.run("webhooks", "list")
    assert endpoint_id in listed.stdout and "access.requested grant.revoked" in listed.stdout
    shown = cli.run("webhooks", "show", endpoint_id)
    assert "https://hooks.example/in" in shown.stdout and secret not in shown.stdout
    assert secret.removeprefix("whsec_").encode() not in (tmp_path / "gw.sqlite3").read_bytes()

    announce_and_attempt(cli)
    [delivery] = cli.json("webhooks", "deliveries", endpoint_id)
    assert delivery["state"] == "pending"
    assert delivery["attempts"][0]["error"] == "DestinationRefused"
    log = cli.run("webhooks", "deliveries", endpoint_id).stdout
    assert log.splitlines()[0].split() == ["DELIVERY", "EVENT", "STATE", "ATTEMPT", "AT", "RESULT"]
    assert "DestinationRefused: hooks.example resolves to 127.0.0.1" in log

    assert cli.json("webhooks", "remove", endpoint_id) == {"removed": endpoint_id}
    assert_refused(cli.run("webhooks", "show", endpoint_id), 1, f"no webhook endpoint {endpoint_id!r}")


def test_an_unknown_event_or_a_plain_http_url_is_refused(tmp_path: Path) -> None:
    cli = Cli.on_sqlite(tmp_path)
    unknown = cli.run("webhooks", "add", "--url", "https://hooks.example/in", "--event", "access.granted")
    assert_refused(unknown, 2, "unknown event 'access.granted'")
    plain = cli.run("webhooks", "add", "--url", "http://hooks.example/in", "--event", "review.due")
    assert_refused(plain, 2, "https")
    assert cli.run("webhooks", "list").stdout.strip() == "no webhook endpoints"
