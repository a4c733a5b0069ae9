"""The ``[audit_export.<name>]`` tables: one exporter each, checked when the settings load.

    [audit_export.siem]               # the name keys the exporter's position in the trail
    kind = "syslog"                   # jsonl | syslog | otlp
    host = "siem.internal"
    port = 6514
    tls = true                        # the default; RFC 5425
    ca_file = "/etc/mcp-gateway/siem-ca.pem"

    [audit_export.collector]
    kind = "otlp"
    endpoint = "https://otel.internal:4318"     # the batch goes to <endpoint>/v1/logs
    headers = { authorization = "Bearer …" }

    [audit_export.archive]
    kind = "jsonl"
    path = "/var/log/mcp-gateway/audit.jsonl"   # "-" for standard output
    max_bytes = 104857600
    keep = 10

Syslog's ``hostname`` is the machine's name unless given. Every kind takes ``batch_events`` (1 to
5000, default 500) and ``batch_bytes`` (events per batch stop before their bodies pass this,
default 1 MiB). A mistake raises :class:`ValueError` naming the table and the key;
:mod:`gateway.config_tables` turns it into the configuration's error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.audit.exporters.rfc5424 import DEFAULT_SD_ID, LOG_AUDIT, checked_sd_id

KINDS = ("jsonl", "syslog", "otlp")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_COMMON = {"kind", "batch_events", "batch_bytes"}
_KEYS = {
    "jsonl": {"path", "max_bytes", "keep"},
    "syslog": {
        "host",
        "port",
        "tls",
        "ca_file",
        "confirm",
        "facility",
        "hostname",
        "app_name",
        "sd_id",
        "timeout",
    },
    "otlp": {"endpoint", "headers", "ca_file", "timeout"},
}


@dataclass(frozen=True)
class ExporterConfig:
    name: str
    kind: str
    batch_events: int = 500
    batch_bytes: int = 1 << 20
    options: Mapping[str, Any] = field(default_factory=dict)
    """The kind's own keys, checked (defaults filled in)."""


def exporter_configs(tables: Any) -> tuple[ExporterConfig, ...]:
    """The exporters ``[audit_export]`` names, in the order written."""
    if not isinstance(tables, Mapping) or not all(isinstance(t, Mapping) for t in tables.values()):
        raise ValueError("[audit_export] must hold one table per exporter: [audit_export.<name>]")
    return tuple(_config(str(name), table) for name, table in tables.items())


def _config(name: str, table: Mapping[str, Any]) -> ExporterConfig:
    where = f"[audit_export.{name}]"
    if not _NAME.fullmatch(name):
        raise ValueError(f"{where}: a name is 1 to 64 letters, digits, '_', '.' or '-'")
    kind = table.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = sorted(set(table) - _COMMON - _KEYS[kind])
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} for kind {kind!r}")
    read = _Reader(where, table)
    options = {"jsonl": _jsonl, "syslog": _syslog, "otlp": _otlp}[kind](read)
    return ExporterConfig(
        name,
        kind,
        batch_events=read.whole("batch_events", 500, 1, 5000),
        batch_bytes=read.whole("batch_bytes", 1 << 20, 1024, 64 << 20),
        options=options,
    )


def _jsonl(read: _Reader) -> dict[str, Any]:
    return {
        "path": read.text("path", required=True),
        "max_bytes": read.whole("max_bytes", 100 << 20, 4096, 1 << 40),
        "keep": read.whole("keep", 5, 0, 1000),
    }


def _syslog(read: _Reader) -> dict[str, Any]:
    tls = read.flag("tls", True)
    confirm = read.text("confirm", "close")
    if confirm not in ("close", "written"):
        raise ValueError(f"{read.where}: confirm must be 'close' or 'written', got {confirm!r}")
    try:
        sd_id = checked_sd_id(read.text("sd_id", DEFAULT_SD_ID))
    except ValueError as exc:
        raise ValueError(f"{read.where}: sd_id: {exc}") from None
    return {
        "host": read.text("host", required=True),
        "port": read.whole("port", 6514 if tls else 601, 1, 65535),
        "tls": tls,
        "ca_file": read.ca_file(),
        "confirm": confirm,
        "facility": read.whole("facility", LOG_AUDIT, 0, 23),
        "hostname": read.text("hostname", ""),
        "app_name": read.text("app_name", "mcp-gateway"),
        "sd_id": sd_id,
        "timeout": read.whole("timeout", 30, 1, 600),
    }


def _otlp(read: _Reader) -> dict[str, Any]:
    endpoint = read.text("endpoint", required=True)
    if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", endpoint):
        raise ValueError(f"{read.where}: endpoint must be an http(s) URL without query, got {endpoint!r}")
    headers = read.table.get("headers", {})
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        raise ValueError(f"{read.where}: headers must map header names to text")
    return {
        "endpoint": endpoint,
        "headers": {str(k): v for k, v in headers.items()},
        "ca_file": read.ca_file(),
        "timeout": read.whole("timeout", 30, 1, 600),
    }


@dataclass(frozen=True)
class _Reader:
    where: str
    table: Mapping[str, Any]

    def text(self, key: str, default: str = "", *, required: bool = False) -> str:
        value = self.table.get(key, None if required else default)
        if not isinstance(value, str) or (required and not value):
            raise ValueError(f"{self.where}: {key} must be {'given as ' if required else ''}text")
        return value

    def ca_file(self) -> str | None:
        """A PEM file of CA certificates that can be read now (a typo fails the start, not every
        delivery); none: the system's trust store."""
        path = self.text("ca_file", "")
        if path and not os.access(path, os.R_OK):
            raise ValueError(f"{self.where}: ca_file {path} does not exist or cannot be read")
        return path or None

    def whole(self, key: str, default: int, low: int, high: int) -> int:
        value = self.table.get(key, default)
        if type(value) is not int or not low <= value <= high:
            raise ValueError(
                f"{self.where}: {key} must be a whole number from {low} to {high}, got {value!r}"
            )
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise ValueError(f"{self.where}: {key} must be true or false, got {value!r}")
        return value
