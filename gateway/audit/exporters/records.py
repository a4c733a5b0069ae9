"""What an exported event says, the same for every exporter: the event as the trail stores it,
its place in the chain (``seq``, ``prev_hash``, ``hash``) and the OCSF class its type is filed
under (:func:`gateway.audit.catalogue.ocsf_class`).

A receiver can check what it holds without the gateway: ``hash`` is SHA-256 over ``prev_hash``
and the canonical body (docs/audit.md), and consecutive events link by ``prev_hash``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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
    record: dict[str, Any] = {**stored.to_json(), "ocsf_class": ocsf_class(index.type)}
    return Exported(
        seq=stored.seq,
        hash=stored.hash,
        type=index.type,
        outcome=index.outcome,
        at=index.at,
        ocsf_class=record["ocsf_class"],
        client_id=index.client_id,
        subject=index.subject,
        tool=index.tool,
        event_id=index.event_id,
        line=json.dumps(record, ensure_ascii=False, separators=(",", ":")),
    )
