"""The exporters and retention as an operator configures them: ``[audit_export.<name>]`` tables
checked when the settings load (one line naming the table and the key), retention's settings, and
the composition root starting one supervised exporter per table beside the retention task."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from gateway.app import create_app
from gateway.audit.exporters.config import exporter_configs
from gateway.audit.exporters.jsonlines import JsonLinesFile, JsonLinesStream
from gateway.audit.exporters.otlp import OtlpLogs
from gateway.audit.exporters.syslog import SyslogSender
from gateway.audit.sqlite_store import SQLiteAuditStore
from gateway.clock import FrozenClock
from gateway.composition import build_gateway
from gateway.config import ConfigError, load_settings, settings_from
from gateway.store.factory import open_store
from gateway.store.memory import MemoryStore
from gateway.upstream.asgi_transport import lifespan
from tests.support.receivers import syslog_listener

SIEM = {"kind": "syslog", "host": "siem.internal"}
COLLECTOR = {"kind": "otlp", "endpoint": "https://otel.internal:4318", "headers": {"authorization": "x"}}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"siem": {"kind": "syslog"}}, "[audit_export.siem]: host must be given as text"),
        ({"siem": {"kind": "splunk"}}, "[audit_export.siem]: kind must be one of jsonl, syslog, otlp"),
        ({"siem": {**SIEM, "verify": False}}, "[audit_export.siem]: unknown key 'verify' for kind 'syslog'"),
        (
            {"siem": {**SIEM, "port": 70000}},
            "[audit_export.siem]: port must be a whole number from 1 to 65535",
        ),
        ({"siem": {**SIEM, "confirm": "never"}}, "confirm must be 'close' or 'written'"),
        ({"siem": {**SIEM, "sd_id": "no at sign"}}, "sd_id"),
        ({"siem": {**SIEM, "ca_file": "/nowhere/ca.pem"}}, "ca_file /nowhere/ca.pem does not exist"),
        (
            {"otel": {"kind": "otlp", "endpoint": "ftp://x"}},
            "[audit_export.otel]: endpoint must be an http(s) URL",
        ),
        ({"otel": {**COLLECTOR, "headers": {"a": 1}}}, "headers must map header names to text"),
        ({"file": {"kind": "jsonl"}}, "[audit_export.file]: path must be given as text"),
        ({"file": {"kind": "jsonl", "path": "a", "keep": -1}}, "keep must be a whole number from 0 to 1000"),
        ({"file": {"kind": "jsonl", "path": "a", "batch_events": 0}}, "batch_events must be a whole number"),
        ({"bad name!": {"kind": "jsonl", "path": "a"}}, "a name is 1 to 64 letters"),
        ({"siem": "syslog"}, "[audit_export] must hold one table per exporter"),
    ],
)
def test_a_bad_exporter_table_is_refused_at_load_naming_the_table_and_key(
    table: object, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_from(store="memory://", audit_export=table)
    assert message in str(refused.value)


def test_exporter_defaults() -> None:
    siem, collector, archive = exporter_configs(
        {"siem": SIEM, "collector": COLLECTOR, "archive": {"kind": "jsonl", "path": "-"}}
    )
    assert (siem.name, siem.batch_events, siem.batch_bytes) == ("siem", 500, 1 << 20)
    assert siem.options["tls"] and siem.options["port"] == 6514 and siem.options["confirm"] == "close"
    assert exporter_configs({"s": {**SIEM, "tls": False}})[0].options["port"] == 601
    assert collector.options["headers"] == {"authorization": "x"}
    assert (archive.options["max_bytes"], archive.options["keep"]) == (100 << 20, 5)


def test_retention_settings_from_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        'store = "memory://"\naudit_retention_days = 90\n'
        '[audit_export.archive]\nkind = "jsonl"\npath = "/var/log/audit.jsonl"\n'
    )
    settings = load_settings(str(config), environ={"MCP_GATEWAY_AUDIT_PRUNE_UNEXPORTED": "true"})
    assert settings.audit.audit_retention_days == 90 and settings.audit.audit_prune_unexported
    assert settings.audit.audit_export == {"archive": {"kind": "jsonl", "path": "/var/log/audit.jsonl"}}
    assert settings_from(store="memory://").audit.audit_retention_days == 0  # kept forever
    with pytest.raises(ConfigError, match="audit_retention_days"):
        settings_from(store="memory://", audit_retention_days=-1)


@pytest.mark.anyio
async def test_the_composition_root_builds_one_supervised_exporter_per_table(tmp_path: Path) -> None:
    clock = FrozenClock(1_700_000_000.0)
    settings = settings_from(
        store="memory://",
        audit_retention_days=30,
        audit_export={
            "siem": SIEM,
            "collector": COLLECTOR,
            "archive": {"kind": "jsonl", "path": str(tmp_path / "a.jsonl")},
            "shipper": {"kind": "jsonl", "path": "-"},
        },
    )
    gateway = build_gateway(settings, MemoryStore(clock), clock=clock)
    sinks = {e.name: type(e.sink) for e in gateway.audit_exporters}
    assert sinks == {
        "siem": SyslogSender,
        "collector": OtlpLogs,
        "archive": JsonLinesFile,
        "shipper": JsonLinesStream,
    }
    assert [t.state.name for t in gateway.audit_export_tasks] == [
        "audit_export_siem",
        "audit_export_collector",
        "audit_export_archive",
        "audit_export_shipper",
    ]
    assert gateway.audit_retention_task.state.name == "audit_retention"
    for exporter in gateway.audit_exporters:
        await exporter.sink.close()
    await gateway.audit_trail.close()


@pytest.mark.anyio
async def test_a_running_gateway_ships_its_trail_to_a_syslog_receiver(tmp_path: Path) -> None:
    """The gateway as ``mcp-gateway serve`` runs it (its app's lifespan starts the supervised
    exporter): an event recorded reaches a syslog receiver on loopback, with its place in the chain."""
    async with syslog_listener() as listener:
        settings = settings_from(
            store=f"sqlite:///{tmp_path / 'gw.sqlite3'}",
            audit_export={
                "siem": {"kind": "syslog", "host": "127.0.0.1", "port": listener.port, "tls": False}
            },
        )
        gateway = build_gateway(settings, open_store(settings.server.store))
        async with lifespan(create_app(gateway)):
            gateway.audit.record("sign_in", outcome="refused", sub="mallory", reason="bad password")
            with anyio.fail_after(20):  # a bound on the wait, not a measure of it
                while not any(m.msgid == "sign_in" for m in listener.messages):
                    await anyio.sleep(0.05)
    (message,) = [m for m in listener.messages if m.msgid == "sign_in"]
    trail = SQLiteAuditStore(str(tmp_path / "gw.audit.sqlite3"))
    (stored,) = [s for s in await trail.read(0, 100) if s.index.type == "sign_in"]
    await trail.close()
    assert message.params["hash"] == stored.hash and message.params["ocsf_class"] == "3002"
    assert message.params["outcome"] == "refused" and message.pri == 13 * 8 + 4
