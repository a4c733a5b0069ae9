"""``audit verify``: recompute the chain, check every checkpoint, and name where the trail changed.

Three passes over what the store holds, reading nothing else:

1. every event: its hash recomputed from its body and previous hash, its searchable columns against
   its body, its id against every other (:mod:`gateway.audit.links` has the rest of the per-event
   story: deletions, insertions, moves);
2. the head: the trail ends where the last append said it did;
3. every checkpoint: numbered without gaps, signed by a key the gateway publishes (its ``gateway``
   keys from the store), or by a key the trail itself recorded (``audit_signing_key``) provided a
   later checkpoint under a published key vouches for that record, and its hash is the hash of the
   event it names. When a checkpoint disagrees with the chain although the links are whole, every
   hash after some edit was recomputed: the change lies after the last checkpoint that agrees.

A trail that retention pruned (:mod:`gateway.audit.retention`) is verified from where it starts:
its first event chains from the last one deleted (``AuditStore.pruned``), the checkpoints of deleted
events are checked for numbering and signature only, and the start itself must be vouched for by a
checkpoint at exactly that event and announced by an ``audit_pruned`` event kept in the trail.

Verification holds three short strings per event in memory (about 200 bytes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from gateway.audit.checkpoints import (
    KEY_EVENT,
    CheckpointClaims,
    CheckpointRefused,
    public_key,
    read_checkpoint,
)
from gateway.audit.links import Finding, Row, link_findings
from gateway.audit.retention import PRUNED_EVENT
from gateway.audit.store import EMPTY, AuditStore, ChainHead, Checkpoint

_PAGE = 2000


@dataclass
class Verification:
    events: int = 0
    head: int = 0
    checkpoints: int = 0
    signed_through: int = 0
    """The last event a valid checkpoint vouches for (the trail up to it is as written)."""
    pruned_through: int = 0
    """The last event retention deleted: the trail starts after it."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head": self.head,
            "checkpoints": self.checkpoints,
            "signed_through": self.signed_through,
            "pruned_through": self.pruned_through,
            "findings": [finding.to_json() for finding in self.findings],
        }


@dataclass
class _Read:
    rows: list[Row] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    recorded_keys: dict[str, tuple[int, ec.EllipticCurvePublicKey]] = field(default_factory=dict)
    """kid -> (the event that recorded it, the key)."""
    prunes: set[int] = field(default_factory=set)
    """The ``through`` of every ``audit_pruned`` event kept."""


async def verify_trail(
    store: AuditStore, published: Mapping[str, ec.EllipticCurvePublicKey], issuer: str
) -> Verification:
    """``published``: the gateway's own verification keys by ``kid``; ``issuer``: its issuer id."""
    read = await _read_events(store)
    head, pruned = await store.head(), await store.pruned()
    anchor = Row(pruned.seq, "", pruned.hash)
    result = Verification(events=len(read.rows), head=head.seq, pruned_through=pruned.seq)
    result.findings = read.findings + link_findings(read.rows, anchor) + _head_findings(read, head, anchor)
    checkpoints = await _all_checkpoints(store)
    result.checkpoints = len(checkpoints)
    hashes = {row.seq: row.hash for row in read.rows}
    if pruned != EMPTY:
        hashes[pruned.seq] = pruned.hash
    findings, result.signed_through = _checkpoint_findings(
        checkpoints, hashes, published, read, issuer, pruned
    )
    result.findings += findings
    result.findings.sort(key=lambda f: (f.seq or 0, f.kind))
    return result


async def _read_events(store: AuditStore) -> _Read:
    read, after = _Read(), 0
    seen: dict[str, int] = {}
    while page := await store.read(after, _PAGE):
        for stored in page:
            after = stored.seq
            read.rows.append(Row(stored.seq, stored.prev_hash, stored.hash))
            if not stored.intact():
                read.findings.append(
                    Finding("edited", stored.seq, f"event {stored.seq} does not match its hash")
                )
                continue
            try:
                event = stored.event()
            except (ValueError, KeyError, TypeError):
                read.findings.append(Finding("edited", stored.seq, f"event {stored.seq} is not an event"))
                continue
            if event.index() != stored.index:
                read.findings.append(
                    Finding("edited", stored.seq, f"event {stored.seq}'s columns disagree with its body")
                )
            if event.event_id in seen:
                read.findings.append(
                    Finding(
                        "inserted",
                        stored.seq,
                        f"event {stored.seq} is a copy of event {seen[event.event_id]}",
                    )
                )
            seen.setdefault(event.event_id, stored.seq)
            if event.type == PRUNED_EVENT and isinstance(event.fields.get("through"), int):
                read.prunes.add(event.fields["through"])
            if event.type == KEY_EVENT:
                with contextlib.suppress(KeyError, ValueError, TypeError):  # a broken key vouches for nothing
                    read.recorded_keys[str(event.fields["kid"])] = (
                        stored.seq,
                        public_key(event.fields["jwk"]),
                    )
    return read


def _head_findings(read: _Read, head: ChainHead, anchor: Row) -> list[Finding]:
    """The trail ends at its head; a pruned one starts where an ``audit_pruned`` event says."""
    rows = read.rows
    findings = []
    if anchor.seq and anchor.seq not in read.prunes:
        findings.append(
            Finding(
                "deleted",
                anchor.seq,
                f"events through {anchor.seq} are gone, and no audit_pruned event says so",
            )
        )
    return findings + _end_findings(rows, head, anchor)


def _end_findings(rows: list[Row], head: ChainHead, anchor: Row) -> list[Finding]:
    last = rows[-1] if rows else anchor
    if last.seq < head.seq:
        return [
            Finding("deleted", last.seq + 1, f"events {last.seq + 1} to {head.seq} are missing at the end")
        ]
    if last.seq > head.seq:
        return [
            Finding(
                "inserted",
                head.seq + 1,
                f"events {head.seq + 1} to {last.seq} were not appended by the gateway",
            )
        ]
    if last.hash != head.hash:
        return [Finding("edited", head.seq, f"event {head.seq} is not the event its append wrote")]
    return []


async def _all_checkpoints(store: AuditStore) -> list[Checkpoint]:
    found: list[Checkpoint] = []
    while page := await store.checkpoints(found[-1].number if found else 0, _PAGE):
        found += page
    return found


def _checkpoint_findings(
    checkpoints: list[Checkpoint],
    hashes: Mapping[int, str],
    published: Mapping[str, ec.EllipticCurvePublicKey],
    read: _Read,
    issuer: str,
    pruned: ChainHead = EMPTY,
) -> tuple[list[Finding], int]:
    """The findings of the checkpoints, and the last event a valid one vouches for. Checkpoints of
    pruned events are checked for their numbering and signature only, but one at exactly the
    pruned event, which must agree with the hash the pruned trail starts from."""
    findings: list[Finding] = []
    agreeing = 0  # the last event a checkpoint vouches for, as far as the chain agrees
    vouched: list[tuple[CheckpointClaims, bool]] = []  # (claims, under a published key)
    recorded = {kid: key for kid, (_, key) in read.recorded_keys.items()}
    seq_of = {digest: seq for seq, digest in hashes.items()}
    for expected, checkpoint in enumerate(checkpoints, start=1):
        where = f"checkpoint {checkpoint.number}"
        if checkpoint.number != expected:
            findings.append(Finding("checkpoint", checkpoint.seq, f"checkpoint {expected} is missing"))
        try:
            claims, under_published = read_checkpoint(checkpoint.jws, published, issuer), True
        except CheckpointRefused as exc:
            try:
                claims, under_published = read_checkpoint(checkpoint.jws, recorded, issuer), False
            except CheckpointRefused:
                findings.append(Finding("checkpoint", checkpoint.seq, f"{where} is forged: {exc}"))
                continue
        if (claims.number, claims.seq, claims.hash) != (checkpoint.number, checkpoint.seq, checkpoint.hash):
            findings.append(
                Finding("checkpoint", checkpoint.seq, f"{where} is stored apart from what it signs")
            )
            continue
        if claims.seq < pruned.seq:
            continue
        actual = hashes.get(claims.seq)
        if actual is None:
            findings.append(
                Finding("deleted", claims.seq, f"event {claims.seq}, which {where} vouches for, is gone")
            )
        elif actual != claims.hash and claims.hash in seq_of:
            moved = seq_of[claims.hash]
            kind, why = ("deleted", "removed") if moved < claims.seq else ("inserted", "put")
            findings.append(
                Finding(
                    kind,
                    claims.seq,
                    f"event {claims.seq} of {where} is now event {moved}: one was {why} before it",
                )
            )
        elif actual != claims.hash:
            findings.append(
                Finding(
                    "edited",
                    claims.seq,
                    f"the trail is not what {where} signed: "
                    f"changed between events {agreeing + 1} and {claims.seq}",
                )
            )
        else:
            agreeing = max(agreeing, claims.seq)
            vouched.append((claims, under_published))
    if pruned.seq and not any(claims.seq == pruned.seq for claims, _ in vouched):
        findings.append(
            Finding(
                "deleted",
                pruned.seq,
                f"the trail starts after event {pruned.seq}, which no checkpoint vouches for",
            )
        )
    latest_published = max((c.seq for c, published_key in vouched if published_key), default=0)
    signed_through = 0
    for claims, under_published in vouched:
        recorded_at = read.recorded_keys.get(claims.kid, (0, None))[0]
        if under_published or recorded_at <= latest_published:
            signed_through = max(signed_through, claims.seq)
        else:
            findings.append(
                Finding(
                    "checkpoint",
                    claims.seq,
                    f"checkpoint {claims.number} is signed by key {claims.kid!r}, which the gateway no "
                    "longer publishes, and no checkpoint under a published key vouches for its record",
                )
            )
    return findings, signed_through
