"""An :class:`~gateway.audit.exporters.core.Exporter` from its checked configuration."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import anyio

from gateway.audit.exporters.config import ExporterConfig
from gateway.audit.exporters.core import Exporter, Sink
from gateway.audit.exporters.jsonlines import STDOUT, JsonLinesFile, JsonLinesStream
from gateway.audit.exporters.otlp import OtlpLogs
from gateway.audit.exporters.rfc5424 import SyslogFormat
from gateway.audit.exporters.syslog import SyslogSender, tls_context
from gateway.audit.store import AuditStore
from gateway.clock import Clock


def sink_for(config: ExporterConfig, clock: Clock) -> Sink:
    o = config.options
    if config.kind == "jsonl":
        if o["path"] == STDOUT:
            return JsonLinesStream()
        return JsonLinesFile(o["path"], max_bytes=o["max_bytes"], keep=o["keep"])
    if config.kind == "syslog":
        hostname = o["hostname"] or socket.gethostname()
        message_format = SyslogFormat(hostname, o["app_name"], o["facility"], o["sd_id"])
        return SyslogSender(
            o["host"],
            o["port"],
            message_format=message_format,
            tls=tls_context(o["ca_file"]) if o["tls"] else None,
            confirm=o["confirm"],
            timeout=o["timeout"],
        )
    return OtlpLogs(
        o["endpoint"], clock=clock, headers=o["headers"], ca_file=o["ca_file"], timeout=o["timeout"]
    )


def exporter_for(
    config: ExporterConfig,
    store: AuditStore,
    clock: Clock,
    wait: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> Exporter:
    return Exporter(
        config.name,
        store,
        sink_for(config, clock),
        batch_events=config.batch_events,
        batch_bytes=config.batch_bytes,
        wait=wait,
    )
