"""The audit exporters, each against a real receiver on loopback run by the test: a syslog listener
(TCP, and TLS with a throw-away CA) that parses the framed RFC 5424 messages, an OTLP/HTTP receiver
that decodes the protobuf, and JSON lines files rotated by size.

AU-6: an exporter's position moves only once its receiver confirmed delivery (a syslog receiver
closing its side after reading ours; an OTLP 2xx), so a receiver that is down, slow or refusing
costs time and never an event; TLS verifies the receiver's certificate and name by default.
"""

from __future__ import annotations

import io
import json
import logging
import stat
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)

from gateway.audit.catalogue import ocsf_class
from gateway.audit.exporters.core import IDLE, Exporter, Sink
from gateway.audit.exporters.jsonlines import JsonLinesFile, JsonLinesStream
from gateway.audit.exporters.otlp import OtlpLogs
from gateway.audit.exporters.records import Exported
from gateway.audit.exporters.rfc5424 import SyslogFormat, checked_sd_id, framed
from gateway.audit.exporters.syslog import SyslogSender, tls_context
from tests.support.audit import TrailWorld, trail_world
from tests.support.receivers import otlp_receiver, parse_rfc5424, syslog_listener, unframe
from tests.support.tls import ThrowAwayCA

pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(tmp_path: Path) -> TrailWorld:
    """A trail of 10 token events for ``bot``, one refusal, a sign-in by someone whose name is not
    ASCII (octet counting counts bytes), and the record of the signing key."""
    world = trail_world(tmp_path, every_events=1000)
    await world.record(10, client_id="bot")
    world.audit.record("token_refused", outcome="refused", client_id="intruder", reason="bad assertion")
    world.audit.record("sign_in", outcome="granted", sub="josé", note='quote " bracket ] back \\ slash')
    await world.trail.tick()
    await world.checkpoints.maybe(force=True)
    return world


def syslog_sender(port: int, *, host: str = "127.0.0.1", **options: object) -> SyslogSender:
    message_format = SyslogFormat(hostname="gw-test", app_name="mcp-gateway")
    return SyslogSender(host, port, message_format=message_format, tls=None, **options)  # type: ignore[arg-type]


async def drain(exporter: Exporter, passes: int = 20) -> None:
    """Steps until the exporter is idle (everything delivered)."""
    for _ in range(passes):
        if await exporter.step() == IDLE:
            return
    raise AssertionError("the exporter never caught up")


def exporter(world: TrailWorld, sink: Sink, name: str = "siem", batch_events: int = 500) -> Exporter:
    return Exporter(name, world.store, sink, batch_events=batch_events)


# -- syslog over TCP -----------------------------------------------------------------------------


async def test_syslog_messages_are_framed_rfc5424_with_the_events_structured_data(world: TrailWorld) -> None:
    stored = await world.store.read(0, 100)
    async with syslog_listener() as listener:
        await drain(exporter(world, syslog_sender(listener.port)))
    assert [int(m.params["seq"]) for m in listener.messages] == [s.seq for s in stored]
    for message, event in zip(listener.messages, stored, strict=True):
        assert message.sd_id == "mcpgw@32473"
        assert message.params == {
            "type": event.index.type,
            "outcome": event.index.outcome,
            "ocsf_class": str(ocsf_class(event.index.type)),
            "seq": str(event.seq),
            "hash": event.hash,
        }
        assert (message.hostname, message.app_name, message.msgid) == (
            "gw-test",
            "mcp-gateway",
            event.index.type,
        )
        assert message.pri == 13 * 8 + (4 if event.index.outcome == "refused" else 5)
        body = json.loads(message.msg)
        assert body == event.to_json()
        assert message.timestamp.endswith("Z")
    assert await world.store.export_position("siem") == stored[-1].seq


async def test_syslog_a_listener_down_for_a_while_loses_nothing(world: TrailWorld) -> None:
    shipping = exporter(world, syslog_sender(0), batch_events=4)
    async with syslog_listener() as listener:
        shipping = exporter(world, syslog_sender(listener.port), batch_events=4)
        assert await shipping.step() == 0.0  # a full batch: the next pass comes at once
    delivered_before = await world.store.export_position("siem")
    assert delivered_before == 4
    await world.record(5, client_id="bot")  # the trail goes on while the receiver is away
    waits = [await shipping.step() for _ in range(3)]
    assert waits == [1.0, 2.0, 4.0]  # backoff doubles; nothing moved
    assert await world.store.export_position("siem") == delivered_before
    async with syslog_listener(port=listener.port, listener=listener):
        await drain(shipping)
    head = await world.store.head()
    seqs = [int(m.params["seq"]) for m in listener.messages]
    assert seqs == sorted(seqs) and set(seqs) == set(range(1, head.seq + 1))
    assert await world.store.export_position("siem") == head.seq


async def test_au6_a_syslog_batch_counts_only_once_the_receiver_closed_after_reading_it(
    world: TrailWorld,
) -> None:
    """The receiver read every byte (its kernel acknowledged them) but never answered our close:
    the batch is not confirmed, the position stays, and it is sent again once a receiver confirms."""
    async with syslog_listener() as listener:
        listener.hold_open = True
        shipping = exporter(world, syslog_sender(listener.port, timeout=0.5))
        assert await shipping.step() == 1.0
        assert await world.store.export_position("siem") == 0
        assert listener.messages  # it got there: written is not delivered
        listener.hold_open = False
        await drain(shipping)
    head = await world.store.head()
    assert await world.store.export_position("siem") == head.seq
    assert [int(m.params["seq"]) for m in listener.messages][-head.seq :] == list(range(1, head.seq + 1))


async def test_au6_a_syslog_batch_written_without_confirmation_counts_when_asked(world: TrailWorld) -> None:
    """``confirm = "written"``, for a receiver that never closes: the batch counts once written."""
    async with syslog_listener() as listener:
        listener.hold_open = True
        await drain(exporter(world, syslog_sender(listener.port, confirm="written", timeout=5)))
    assert await world.store.export_position("siem") == (await world.store.head()).seq


def test_rfc5424_escapes_structured_data_and_keeps_header_fields_printable() -> None:
    event = Exported(
        seq=7,
        hash="ab" * 32,
        type="odd type",
        outcome='a"b]c\\d',
        at=1_700_000_000.25,
        ocsf_class=0,
        client_id=None,
        subject=None,
        tool=None,
        event_id="e",
        line='{"x":"é"}',
    )
    raw = SyslogFormat(hostname="gw host", app_name="", sd_id="audit@99999").message(event)
    parsed = parse_rfc5424(unframe(framed(raw))[0])
    assert parsed.params["outcome"] == 'a"b]c\\d' and parsed.sd_id == "audit@99999"
    assert (parsed.hostname, parsed.app_name, parsed.procid, parsed.msgid) == ("gwhost", "-", "-", "oddtype")
    assert parsed.timestamp == "2023-11-14T22:13:20.250000Z" and parsed.msg == '{"x":"é"}'
    assert framed(raw).startswith(str(len(raw)).encode() + b" ") and len(raw) > len(raw.decode())
    with pytest.raises(ValueError, match="SD-ID"):
        checked_sd_id("no-number")


# -- syslog over TLS -----------------------------------------------------------------------------


def tls_sender(port: int, ca_file: str | None) -> SyslogSender:
    message_format = SyslogFormat(hostname="gw-test")
    return SyslogSender("localhost", port, message_format=message_format, tls=tls_context(ca_file), timeout=5)


async def test_syslog_over_tls_with_the_receivers_ca_delivers(world: TrailWorld, tmp_path: Path) -> None:
    authority = ThrowAwayCA(tmp_path)
    async with syslog_listener(tls=authority.server_for("localhost")) as listener:
        await drain(exporter(world, tls_sender(listener.port, str(authority.ca_file))))
    head = await world.store.head()
    assert [int(m.params["seq"]) for m in listener.messages] == list(range(1, head.seq + 1))
    assert await world.store.export_position("siem") == head.seq


async def test_au6_syslog_over_tls_verifies_the_receivers_certificate_by_default(
    world: TrailWorld, tmp_path: Path
) -> None:
    """A certificate the system does not trust, and one for another name under a trusted CA: no
    event leaves, the position stays."""
    authority = ThrowAwayCA(tmp_path)
    async with syslog_listener(tls=authority.server_for("localhost")) as listener:
        assert await exporter(world, tls_sender(listener.port, None)).step() == 1.0
    async with syslog_listener(tls=authority.server_for("elsewhere.test")) as other:
        assert await exporter(world, tls_sender(other.port, str(authority.ca_file))).step() == 1.0
    assert listener.messages == other.messages == []
    assert await world.store.export_position("siem") == 0


async def test_au6_a_syslog_exporter_is_tls_by_default_with_verification() -> None:
    from gateway.audit.exporters.config import exporter_configs

    (config,) = exporter_configs({"siem": {"kind": "syslog", "host": "siem.internal"}})
    assert (config.options["tls"], config.options["port"], config.options["ca_file"]) == (True, 6514, None)
    context = tls_context(None)
    assert context.check_hostname and context.verify_mode.name == "CERT_REQUIRED"


# -- OTLP/HTTP -----------------------------------------------------------------------------------


async def test_otlp_each_event_is_a_log_record_with_the_audit_attributes(world: TrailWorld) -> None:
    stored = await world.store.read(0, 100)
    async with otlp_receiver() as receiver:
        sink = OtlpLogs(receiver.url, clock=world.clock)
        await drain(exporter(world, sink, "collector"))
        await sink.close()
    (request,) = receiver.requests
    assert receiver.content_types == ["application/x-protobuf"]
    (resource_logs,) = request.resource_logs
    assert {a.key: a.value.string_value for a in resource_logs.resource.attributes} == {
        "service.name": "mcp-gateway"
    }
    records = resource_logs.scope_logs[0].log_records
    assert len(records) == len(stored)
    for record, event in zip(records, stored, strict=True):
        attributes = {a.key: a.value for a in record.attributes}
        assert attributes["ocsf.class_uid"].int_value == ocsf_class(event.index.type)
        assert attributes["audit.type"].string_value == event.index.type
        assert attributes["audit.outcome"].string_value == event.index.outcome
        assert attributes["audit.seq"].int_value == event.seq
        assert attributes["audit.hash"].string_value == event.hash
        assert attributes["audit.event_id"].string_value == event.index.event_id
        if event.index.client_id is not None:
            assert attributes["audit.client_id"].string_value == event.index.client_id
        assert record.time_unix_nano == round(event.index.at * 1e6) * 1000
        assert record.event_name == f"mcp_gateway.audit.{event.index.type}"
        assert record.severity_text == ("WARN" if event.index.outcome == "refused" else "INFO")
        assert json.loads(record.body.string_value)["hash"] == event.hash


async def test_au6_an_otlp_batch_counts_only_after_a_2xx(world: TrailWorld) -> None:
    """503 with Retry-After: the position stays and the exporter waits what it was asked; the same
    batch goes again, and the position moves only after the 200 (at least once)."""
    head = await world.store.head()
    async with otlp_receiver() as receiver:
        receiver.script = [(503, {"Retry-After": "7"}, b""), (429, {}, b"")]
        sink = OtlpLogs(receiver.url, clock=world.clock)
        shipping = exporter(world, sink, "collector")
        assert await shipping.step() == 7.0
        assert await world.store.export_position("collector") == 0
        assert await shipping.step() == 2.0  # no Retry-After: the backoff
        assert await world.store.export_position("collector") == 0
        assert await shipping.step() == IDLE
        await sink.close()
    assert await world.store.export_position("collector") == head.seq
    sent = [
        [
            a.value.int_value
            for r in q.resource_logs[0].scope_logs[0].log_records
            for a in r.attributes
            if a.key == "audit.seq"
        ]
        for q in receiver.requests
    ]
    assert sent == [list(range(1, head.seq + 1))] * 3


async def test_otlp_a_partial_success_is_logged_and_delivered(
    world: TrailWorld, caplog: pytest.LogCaptureFixture
) -> None:
    answer = ExportLogsServiceResponse(
        partial_success=ExportLogsPartialSuccess(rejected_log_records=1, error_message="too old")
    ).SerializeToString()
    async with otlp_receiver() as receiver:
        receiver.script = [(200, {}, answer)]
        sink = OtlpLogs(receiver.url, clock=world.clock)
        with caplog.at_level(logging.WARNING, logger="mcp_gateway"):
            await drain(exporter(world, sink, "collector"))
        await sink.close()
    assert "rejected 1 of" in caplog.text and "too old" in caplog.text
    assert await world.store.export_position("collector") == (await world.store.head()).seq


async def test_otlp_an_unreachable_collector_never_raises(world: TrailWorld) -> None:
    async with otlp_receiver() as receiver:
        url = receiver.url
    sink = OtlpLogs(url, clock=world.clock, timeout=5)
    assert await exporter(world, sink, "collector").step() == 1.0
    await sink.close()
    assert await world.store.export_position("collector") == 0


async def test_an_exporter_started_again_delivers_with_the_same_sink(world: TrailWorld) -> None:
    """``run`` closes its sink when cancelled; a supervisor starting it again gets a working one."""
    async with otlp_receiver() as receiver:
        sink = OtlpLogs(receiver.url, clock=world.clock)
        for _ in range(2):
            with anyio.CancelScope() as scope:

                async def wait(seconds: float, scope: anyio.CancelScope = scope) -> None:
                    if seconds == IDLE:  # caught up: stop, as a shutdown would
                        scope.cancel()
                    await anyio.lowlevel.checkpoint()

                await Exporter("collector", world.store, sink, wait=wait).run()
            await world.record(2, client_id="bot")
    head = await world.store.head()
    assert await world.store.export_position("collector") == head.seq - 2
    assert len(receiver.requests) == 2


async def test_otlp_over_tls_is_verified_by_default(world: TrailWorld, tmp_path: Path) -> None:
    authority = ThrowAwayCA(tmp_path)
    async with otlp_receiver(tls=authority.server_for("localhost")) as receiver:
        endpoint = receiver.url.replace("http://127.0.0.1", "https://localhost")
        untrusted = OtlpLogs(endpoint, clock=world.clock, timeout=5)
        assert await exporter(world, untrusted, "collector").step() == 1.0
        await untrusted.close()
        assert receiver.requests == []
        trusted = OtlpLogs(endpoint, clock=world.clock, ca_file=str(authority.ca_file), timeout=5)
        await drain(exporter(world, trusted, "collector"))
        await trusted.close()
    assert len(receiver.requests) == 1
    assert await world.store.export_position("collector") == (await world.store.head()).seq


# -- JSON lines ----------------------------------------------------------------------------------


async def test_jsonl_files_rotate_by_size_keep_n_and_are_owner_only(
    world: TrailWorld, tmp_path: Path
) -> None:
    await world.record(30, client_id="bot")
    path = tmp_path / "export" / "audit.jsonl"
    await drain(exporter(world, JsonLinesFile(str(path), max_bytes=4000, keep=2), batch_events=3), 100)
    files = [path, path.with_name("audit.jsonl.1"), path.with_name("audit.jsonl.2")]
    assert all(f.exists() for f in files) and not path.with_name("audit.jsonl.3").exists()
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert all(f.stat().st_size <= 4000 for f in files)
    lines = [json.loads(line) for f in reversed(files) for line in f.read_text().splitlines()]
    seqs = [line["seq"] for line in lines]
    head = await world.store.head()
    assert seqs == list(range(seqs[0], head.seq + 1)) and seqs[0] > 1  # the oldest file went
    assert lines[-1]["hash"] == head.hash


async def test_jsonl_to_a_stream(world: TrailWorld) -> None:
    out = io.StringIO()
    await drain(exporter(world, JsonLinesStream(out), "stdout"))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, (await world.store.head()).seq + 1))


async def test_jsonl_a_file_that_cannot_be_written_is_a_failed_delivery(
    world: TrailWorld, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    sink = JsonLinesFile(str(blocked / "audit.jsonl"), max_bytes=4096, keep=1)
    assert await exporter(world, sink, "archive").step() == 1.0
    assert await world.store.export_position("archive") == 0


async def test_an_exporter_waits_out_a_trail_that_does_not_answer(world: TrailWorld) -> None:
    out = io.StringIO()
    world.store.down = True
    shipping = exporter(world, JsonLinesStream(out), "stdout")
    assert await shipping.step() == 1.0
    world.store.down = False
    await drain(shipping)
    assert out.getvalue().count("\n") == (await world.store.head()).seq
