"""The hash chain: how each stored event is bound to every event before it.

An event is stored as its canonical JSON text (the *body*) and chained:

    hash(n) = SHA-256( hash(n-1) as 64 lower-case hex characters  ||  body(n) as UTF-8 )

with ``hash(0)`` = :data:`GENESIS` (64 zeros). The canonical form is the event's JSON
(``AuditEvent.to_json``) with members sorted by name at every level, no insignificant whitespace
(``,`` and ``:`` as separators), strings as UTF-8 (no ``\\u`` escapes for non-ASCII characters),
numbers as Python writes them (``at`` keeps at most six decimals), no NaN or infinity.

A verifier never re-serialises: it hashes the body exactly as stored, so any language can check a
trail with a SHA-256 and a hex encoder::

    printf '%s%s' "$prev_hash" "$body" | sha256sum

The sequence number is not part of the body: the order is what the links say, and the signed
checkpoints (:mod:`gateway.audit.checkpoints`) bind a sequence number to a hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.audit.events import AuditEvent, EventIndex

GENESIS = "0" * 64


def canonical(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def link(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredEvent:
    """An event read back from the trail, with the columns it was indexed by."""

    seq: int
    prev_hash: str
    hash: str
    body: str
    index: EventIndex

    def event(self) -> AuditEvent:
        """The event the body holds (raises ``ValueError`` or ``KeyError`` when it is not one)."""
        return AuditEvent.from_json(json.loads(self.body))

    def to_json(self) -> dict[str, Any]:
        """What ``audit export`` writes: the event with its place in the chain (a body that is not
        JSON any more is written as it is stored, under ``body``)."""
        try:
            event = json.loads(self.body)
        except ValueError:
            event = {"body": self.body}
        return {"seq": self.seq, "prev_hash": self.prev_hash, "hash": self.hash, **event}

    def intact(self) -> bool:
        """The stored hash is the hash of the stored body after the stored previous hash."""
        return link(self.prev_hash, self.body) == self.hash


def extend(seq: int, prev_hash: str, events: Iterable[AuditEvent]) -> Iterator[StoredEvent]:
    """The links of ``events`` appended after the event ``seq`` whose hash is ``prev_hash``."""
    for event in events:
        body = canonical(event.to_json())
        seq, digest = seq + 1, link(prev_hash, body)
        yield StoredEvent(seq, prev_hash, digest, body, event.index())
        prev_hash = digest
