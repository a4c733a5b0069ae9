"""The syslog message of an exported event (RFC 5424) and its octet-counting frame (RFC 6587 §3.4.1,
RFC 5425 §4.3).

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID type=… outcome=… ocsf_class=… seq=… hash=…] BOM MSG

* PRI: ``facility * 8 + severity``; facility 13 (*log audit*) by default, severity 5 (*notice*), or
  4 (*warning*) for a refusal, a denial or a failure;
* TIMESTAMP: the event's time, UTC, to the microsecond (RFC 3339, §6.2.3);
* HOSTNAME, APP-NAME: as configured (printable US-ASCII, at most 255 and 48 characters), ``-`` when
  empty; PROCID ``-``; MSGID the event's type (at most 32 characters);
* STRUCTURED-DATA: one element whose SD-ID is configured (``name@<private enterprise number>``,
  §7.2.2; the default uses 32473, the number RFC 5612 reserves for documentation), carrying the
  event's type, outcome, OCSF class, sequence number and hash; ``"``, ``\\`` and ``]`` escaped
  (§6.3.3);
* MSG: the exported event's JSON (:mod:`gateway.audit.exporters.records`) in UTF-8, after a BOM
  (§6.4).

The standard library's ``SysLogHandler`` writes RFC 3164-like lines without structured data, and
the RFC 5424 formatters on PyPI are logging formatters, unmaintained for years, that know nothing of
octet counting: writing the few lines here costs less than adapting them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.audit.exporters.records import Exported

LOG_AUDIT = 13
NOTICE, WARNING = 5, 4
DEFAULT_SD_ID = "mcpgw@32473"
_BOM = "\ufeff"
_SD_NAME = re.compile(r"[!#-~]{1,32}")
"""SD-NAME (§6.3.2): printable US-ASCII but ``=``, space, ``]`` and ``"``, 1 to 32 characters."""


def checked_sd_id(sd_id: str) -> str:
    """``sd_id`` as RFC 5424 allows it (a name with ``@`` and a number: a private one); else
    ``ValueError``."""
    name, _, number = sd_id.partition("@")
    if not _SD_NAME.fullmatch(sd_id) or any(c in sd_id for c in '= ]"') or not name or not number.isdigit():
        raise ValueError(f"{sd_id!r} is not an SD-ID of the form name@<private enterprise number>")
    return sd_id


def _header_field(value: str, limit: int) -> str:
    """A printable US-ASCII field of at most ``limit`` characters, ``-`` when nothing is left."""
    cleaned = "".join(c for c in value if "!" <= c <= "~")[:limit]
    return cleaned or "-"


def _param(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


@dataclass(frozen=True)
class SyslogFormat:
    hostname: str = ""
    app_name: str = "mcp-gateway"
    facility: int = LOG_AUDIT
    sd_id: str = DEFAULT_SD_ID

    def message(self, event: Exported) -> bytes:
        severity = WARNING if event.refused else NOTICE
        moment = datetime.fromtimestamp(event.at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        params = (
            ("type", event.type),
            ("outcome", event.outcome),
            ("ocsf_class", str(event.ocsf_class)),
            ("seq", str(event.seq)),
            ("hash", event.hash),
        )
        data = "[" + self.sd_id + "".join(f' {name}="{_param(value)}"' for name, value in params) + "]"
        header = " ".join(
            (
                f"<{self.facility * 8 + severity}>1",
                moment,
                _header_field(self.hostname, 255),
                _header_field(self.app_name, 48),
                "-",
                _header_field(event.type, 32),
            )
        )
        return f"{header} {data} {_BOM}{event.line}".encode()


def framed(message: bytes) -> bytes:
    """Octet counting: the message's length in bytes, a space, the message."""
    return str(len(message)).encode("ascii") + b" " + message
