"""What an exported event says, the same for every exporter: the event as the trail stores it with
its place in the chain (``seq``, ``prev_hash``, ``hash``), as one JSON line, the very line
``mcp-gateway audit export`` writes; beside it, the columns the syslog structured data and the OTLP
attributes carry, and the OCSF class its type is filed under
(:func:`gateway.audit.catalogue.ocsf_class`).

The line holds nothing else, so a receiver can check what it holds without the gateway: drop
``seq``, ``prev_hash`` and ``hash``, and ``hash`` is SHA-256 over ``prev_hash`` and the canonical
JSON of the rest (docs/audit.md); consecutive events link by ``prev_hash``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from gateway.audit.catalogue import ocsf_class
from gateway.audit.chain import StoredEvent


@dataclass(frozen=True)
class Exported:
    """One event as an exporter sends it; ``line`` is its JSON (one line, UTF-8)."""

    seq: int
    hash: str
    type: str
    outcome: str
    at: float
    ocsf_class: int
    client_id: str | None
    subject: str | None
    tool: str | None
    event_id: str
    line: str

    @property
    def refused(self) -> bool:
        """An outcome a reader looks at first (a refusal, a failure, a denial)."""
        return self.outcome in ("refused", "denied", "failed", "dropped", "revoked", "replayed")


def exported(stored: StoredEvent) -> Exported:
    index = stored.index
    return Exported(
        seq=stored.seq,
        hash=stored.hash,
        type=index.type,
        outcome=index.outcome,
        at=index.at,
        ocsf_class=ocsf_class(index.type),
        client_id=index.client_id,
        subject=index.subject,
        tool=index.tool,
        event_id=index.event_id,
        line=json.dumps(stored.to_json(), ensure_ascii=False, separators=(",", ":")),
    )
