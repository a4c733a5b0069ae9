"""Reading a trail's links back: where an event was changed, deleted, inserted or moved.

The links are what the writer recorded: each event names the hash of the one before it. Following
them from the start rebuilds the order the events were written in, whatever their sequence numbers
now say; comparing the two names each kind of tampering:

* **edited**: an event's hash is not the hash of its body after its previous hash (or the columns
  it is searched by disagree with its body);
* **deleted**: a sequence number is missing, or an event links to a hash no event has;
* **inserted**: an event no walk from the start reaches (it links to an event another one follows),
  or a copy of another event (same id);
* **reordered**: following the links goes back to a lower sequence number.

A pruned trail (:mod:`gateway.audit.retention`) starts after the last event pruned: its first event
links to that one's hash, and numbering goes on from there.

An edit that recomputed every later hash leaves the links whole; only the signed checkpoints
(:mod:`gateway.audit.verify`) can tell it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.audit.chain import GENESIS


@dataclass(frozen=True)
class Finding:
    """One place where the trail is not what the gateway wrote."""

    kind: str
    """``edited``, ``deleted``, ``inserted``, ``reordered`` or ``checkpoint``."""
    seq: int | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "seq": self.seq, "detail": self.detail}


@dataclass(frozen=True)
class Row:
    """What the link analysis needs of one event."""

    seq: int
    prev_hash: str
    hash: str


START = Row(0, "", GENESIS)
"""Where an unpruned trail starts: before event 1, at the genesis hash."""


def link_findings(rows: Sequence[Row], anchor: Row = START) -> list[Finding]:
    """Deletions, insertions and moves among ``rows`` (in sequence order). ``anchor``: the event the
    trail starts after (``seq`` and ``hash``): the last one pruned, else the genesis."""
    findings = _gaps(rows, anchor.seq + 1)
    gapped = {f.seq for f in findings}
    known = {row.hash for row in rows}
    followers: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        followers.setdefault(row.prev_hash, []).append(index)
    visited = [False] * len(rows)

    def walk(index: int) -> None:
        while True:
            visited[index] = True
            after = [i for i in followers.get(rows[index].hash, []) if not visited[i]]
            if not after:
                return
            nxt = min(after, key=lambda i: (not followers.get(rows[i].hash), i != index + 1, i))
            if rows[nxt].seq < rows[index].seq:
                findings.append(
                    Finding(
                        "reordered",
                        rows[nxt].seq,
                        f"event {rows[nxt].seq} was written after event {rows[index].seq}",
                    )
                )
            index = nxt

    starts = [i for i in followers.get(anchor.hash, [])]
    if starts:
        walk(min(starts, key=lambda i: (not followers.get(rows[i].hash), i)))
    for index, row in enumerate(rows):
        if not visited[index] and row.prev_hash not in known and row.prev_hash != anchor.hash:
            if row.seq not in gapped:
                findings.append(
                    Finding("deleted", row.seq, f"the event written before event {row.seq} is missing")
                )
            walk(index)
    by_hash = {row.hash: row for row in rows}
    for index, row in enumerate(rows):
        if not visited[index]:
            parent = by_hash.get(row.prev_hash)
            after = f"event {parent.seq}" if parent is not None else "the start of the trail"
            findings.append(
                Finding(
                    "inserted", row.seq, f"event {row.seq} is not in the chain (it claims to follow {after})"
                )
            )
    return sorted(findings, key=lambda f: (f.seq or 0, f.kind))


def _gaps(rows: Sequence[Row], expected: int) -> list[Finding]:
    findings: list[Finding] = []
    for row in rows:
        if row.seq > expected:
            missing = (
                f"event {expected}" if row.seq == expected + 1 else f"events {expected} to {row.seq - 1}"
            )
            findings.append(Finding("deleted", row.seq, f"{missing} missing before event {row.seq}"))
        expected = row.seq + 1
    return findings
